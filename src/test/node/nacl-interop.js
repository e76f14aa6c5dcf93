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
//   old-bot-keys {dir}                       -> writes an old bot's key directory with fresh keys, the
//                                               way index.js writes it (JSON.stringify(x, null, 2) + "\n"),
//                                               plus envelope-from-alice.json; answers the public parts
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
    case 'old-bot-keys':
      return oldBotKeys(input.dir);
    default:
      throw new Error('unknown mode: ' + mode);
  }
}

function fp(b64) {
  return crypto.createHash('sha256').update(b64).digest('hex').slice(0, 16);
}

function pair() {
  const kp = nacl.box.keyPair();
  const publicKey = encodeBase64(kp.publicKey);
  return { publicKey, secretKey: encodeBase64(kp.secretKey), fingerprint: fp(publicKey) };
}

// Key material is made fresh on every run: nothing secret is committed with the tests.
function oldBotKeys(dir) {
  const fs = require('fs');
  const path = require('path');
  const write = (name, obj) => fs.writeFileSync(path.join(dir, name), JSON.stringify(obj, null, 2) + '\n');
  fs.mkdirSync(dir, { recursive: true });
  const ada = pair();
  const alice = pair();
  const bob = pair();
  const first = pair();
  let second = pair();
  while (second.fingerprint.slice(0, 4) === first.fingerprint.slice(0, 4)) second = pair();
  write('dispatch-keys.json', { publicKey: ada.publicKey, secretKey: ada.secretKey });
  write('trusted-keys.json', {
    alice: { publicKey: alice.publicKey, fingerprint: alice.fingerprint, addedAt: '2025-03-01T10:15:30.123Z' },
    'bob the builder': { publicKey: bob.publicKey, addedAt: '2025-03-02T08:00:00.000Z', note: 'added by hand, no fingerprint' },
  });
  write('pending-registrations.json', {
    [first.fingerprint]: { pubkey: first.publicKey, requestedAt: '2025-03-03T09:00:00.000Z', taskId: 4711 },
    [second.fingerprint]: { pubkey: second.publicKey, requestedAt: '2025-03-03T09:05:00.000Z', taskId: '4712', via: 'ats' },
  });
  write('config.json', {
    require_encryption: true, operator: 'ops@example.org', thresholds: { warn: [1, 2.5, 'x'], empty: {}, none: [] },
  });
  const task = {
    title: 'Summarise the report',
    description: 'Three bullet points, ünïcödé ✓',
    payload: { callback_url: 'https://inner.example/cb', quiet: true },
  };
  const nonce = nacl.randomBytes(nacl.box.nonceLength);
  const box = nacl.box(decodeUTF8(JSON.stringify(task)), nonce, decodeBase64(ada.publicKey), decodeBase64(alice.secretKey));
  write('envelope-from-alice.json', { encrypted: true, sender: 'alice', nonce: encodeBase64(nonce), ciphertext: encodeBase64(box) });
  const pub = (k) => ({ publicKey: k.publicKey, fingerprint: k.fingerprint });
  return { ada: pub(ada), alice: pub(alice), bob: pub(bob), pending: [pub(first), pub(second)] };
}

let text = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (c) => { text += c; });
process.stdin.on('end', () => {
  process.stdout.write(JSON.stringify(main(process.argv[2], text.trim() ? JSON.parse(text) : {})) + '\n');
});
