#!/usr/bin/env node
// Test helper for the Java interop tests: the real tweetnacl + tweetnacl-util, used exactly the way
// the JavaScript ats-dispatch (index.js) and encrypt-task.js use them. One mode per run; the input is
// one JSON object on stdin, the answer one JSON object on stdout.
//
//   keypair                                  -> {publicKey, secretKey}
//   envelope {task, adaKey, secretKey, sender}-> the payload encrypt-task.js submits:
//                                               {encrypted: true, sender, nonce, ciphertext}
//   seal {plaintext, nonce, publicKey, secretKey} -> {ciphertext}   (fixed nonce, for vectors)
//   open {nonce, ciphertext, publicKey, secretKey} -> {plaintext} | {error}
//   fingerprint {keys: [b64, ...]}           -> {fingerprints: [...]} (index.js's algorithm)
'use strict';
const crypto = require('crypto');
const nacl = require('tweetnacl');
const { encodeBase64, decodeBase64, encodeUTF8, decodeUTF8 } = require('tweetnacl-util');

function main(mode, input) {
  switch (mode) {
    case 'keypair': {
      const kp = nacl.box.keyPair();
      return { publicKey: encodeBase64(kp.publicKey), secretKey: encodeBase64(kp.secretKey) };
    }
    case 'envelope': {
      // encrypt-task.js: title always, description and payload only when given
      const taskData = { title: input.task.title };
      if (input.task.description) taskData.description = input.task.description;
      if (input.task.payload !== undefined) taskData.payload = input.task.payload;
      const nonce = nacl.randomBytes(nacl.box.nonceLength);
      const box = nacl.box(decodeUTF8(JSON.stringify(taskData)), nonce,
        decodeBase64(input.adaKey), decodeBase64(input.secretKey));
      return { encrypted: true, sender: input.sender, nonce: encodeBase64(nonce), ciphertext: encodeBase64(box) };
    }
    case 'seal': {
      const box = nacl.box(decodeUTF8(input.plaintext), decodeBase64(input.nonce),
        decodeBase64(input.publicKey), decodeBase64(input.secretKey));
      return { ciphertext: encodeBase64(box) };
    }
    case 'open': {
      // index.js decryptFromSender / encrypt-task.js --decrypt
      const opened = nacl.box.open(decodeBase64(input.ciphertext), decodeBase64(input.nonce),
        decodeBase64(input.publicKey), decodeBase64(input.secretKey));
      return opened ? { plaintext: encodeUTF8(opened) } : { error: 'open failed' };
    }
    case 'fingerprint':
      return {
        fingerprints: input.keys.map((k) => crypto.createHash('sha256').update(k).digest('hex').slice(0, 16)),
      };
    default:
      throw new Error('unknown mode: ' + mode);
  }
}

let text = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (c) => { text += c; });
process.stdin.on('end', () => {
  process.stdout.write(JSON.stringify(main(process.argv[2], text.trim() ? JSON.parse(text) : {})) + '\n');
});
