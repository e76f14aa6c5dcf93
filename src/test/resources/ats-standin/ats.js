#!/usr/bin/env node
// Test stand-in for the `ats` CLI 1.3.0 (the real one is on no registry reachable here).
// Reproduces only what ../shared/ats-protocol.md §1 and §5 pin down for the commands ats-dispatch
// calls: argument quirks, config resolution, headers, stdout texts, `Error: ...` on stderr and exit
// codes. Every answer comes from a real server over HTTP; nothing is faked.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');

function parseArgs(argv) {
  const flags = {};
  const positional = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith('--')) {
      const body = a.slice(2);
      if (body.includes('=')) {
        const parts = body.split('=');          // §1.5: text after a second '=' is lost
        flags[parts[0]] = parts[1];
      } else if (argv[i + 1] && !argv[i + 1].startsWith('-')) {
        flags[body] = argv[++i];
      } else {
        flags[body] = true;
      }
    } else if (a.startsWith('-') && a.length === 2) {
      const k = a.slice(1);
      if (argv[i + 1] && !argv[i + 1].startsWith('-')) flags[k] = argv[++i]; else flags[k] = true;
    } else {
      positional.push(a);
    }
  }
  return { flags, positional };
}

function readConfig(file) {
  try { return JSON.parse(fs.readFileSync(file, 'utf8')); } catch (e) { return {}; }
}

const { flags, positional } = parseArgs(process.argv.slice(2));
const globalCfg = readConfig(path.join(os.homedir(), '.ats', 'config'));
const projectCfg = readConfig(path.join(process.cwd(), '.ats', 'config'));
const cfg = Object.assign({}, globalCfg, projectCfg);
cfg.actor = Object.assign({}, globalCfg.actor || {}, projectCfg.actor || {});

const url = flags.url || flags.u || process.env.ATS_URL || cfg.url || 'https://ats.difflab.ai';
const orgSet = flags.org || process.env.ATS_ORG || cfg.organization;
const projectSet = flags.project || process.env.ATS_PROJECT || cfg.project;
const scoped = Boolean(orgSet || projectSet);
const base = scoped ? `/orgs/${orgSet || 'default'}/projects/${projectSet || 'main'}/tasks` : '/tasks';
const actor = {
  type: flags['actor-type'] || process.env.ATS_ACTOR_TYPE || cfg.actor.type || 'agent',
  id: flags['actor-id'] || process.env.ATS_ACTOR_ID || cfg.actor.id || 'claude-code',
  name: flags['actor-name'] || process.env.ATS_ACTOR_NAME || cfg.actor.name || 'Claude Code',
};
const format = flags.format || flags.f || 'table';

async function request(method, p, body) {
  const opts = {
    method,
    headers: {
      'Content-Type': 'application/json',
      'X-Actor-Type': actor.type,
      'X-Actor-ID': actor.id,
      'X-Actor-Name': actor.name,
    },
  };
  if (body !== undefined) opts.body = JSON.stringify(body);
  const res = await fetch(url + p, opts);
  const text = await res.text();
  const data = JSON.parse(text);               // §2.1: parsed before the status is looked at
  if (!res.ok) throw new Error(data.error || data.message || `HTTP ${res.status}`);
  return data;
}

function need(value, what) {
  if (!value) {
    process.stderr.write(`Error: ${what} is required\n`);
    process.exit(1);
  }
}

async function main() {
  if (flags.version || positional[0] === 'version') {
    console.log('ats-cli v1.3.0');
    return;
  }
  const cmd = positional[0];
  const id = positional[1];
  switch (cmd) {
    case 'health': {
      const h = await request('GET', '/health');
      console.log(`✓ Service is ${h.status}`);
      console.log(`  Timestamp: ${h.timestamp}`);
      return;
    }
    case 'get': {
      need(id, 'Task ID');
      const d = await request('GET', `${base}/${id}`);
      console.log(JSON.stringify(d.task || d, null, 2));
      return;
    }
    case 'list': {
      const q = new URLSearchParams();
      const defaultFilter = !flags.all && !flags.status;
      if (defaultFilter) q.set('status', 'pending'); else if (flags.status && flags.status !== true) q.set('status', flags.status);
      if (flags.channel) q.set('channel', flags.channel);
      if (flags.limit) q.set('limit', flags.limit);
      if (flags.offset) q.set('offset', flags.offset);
      const since = flags.since || flags.S;
      if (since) {                             // only absolute forms (ISO, YYYY-MM-DD) here
        const d = new Date(since);
        if (isNaN(d.getTime())) throw new Error(`Invalid --since value: ${since}`);
        q.set('created_after', d.toISOString());
      }
      const sortKeys = { created: 'created_at', updated: 'updated_at', priority: 'priority', title: 'title' };
      if (flags.sort) {
        const key = sortKeys[flags.sort];
        if (!key) throw new Error(`Invalid --sort value: ${flags.sort}`);
        const dflt = key === 'title' ? 'asc' : 'desc';
        q.set('sort_by', key);
        q.set('sort_dir', flags.r ? (dflt === 'asc' ? 'desc' : 'asc') : dflt);
      } else if (flags.r) {
        q.set('sort_dir', 'asc');
      }
      const qs = q.toString();
      const d = await request('GET', base + (qs ? `?${qs}` : ''));
      const tasks = Array.isArray(d) ? d : (d.tasks || []);
      const count = (d && d.count) || tasks.length;
      if (tasks.length === 0) {
        console.log(defaultFilter ? 'No pending tasks. Use --all to see all tasks.' : 'No tasks found.');
        return;
      }
      console.log(JSON.stringify(tasks, null, 2));
      console.log(`\n${count} task(s) found${defaultFilter ? ' (pending only, use --all for all)' : ''}`);
      return;
    }
    case 'create': {
      need(id, 'Title');
      const body = {
        title: id,
        type: flags.type || 'task',
        channel: flags.channel || process.env.ATS_CHANNEL || cfg.channel || 'default',
        priority: parseInt(flags.priority) || 5,
      };
      if (flags.description !== undefined) body.description = flags.description;
      if (flags.payload !== undefined) body.payload = JSON.parse(flags.payload);
      const d = await request('POST', base, body);
      const t = d.task || d;
      console.log(`✓ Task created with ID: ${t.id}`);
      if (format === 'json') console.log(JSON.stringify(t, null, 2));
      return;
    }
    case 'claim': {
      need(id, 'Task ID');
      const body = flags.lease ? { lease_duration: parseInt(flags.lease) } : {};
      const d = await request('POST', `${base}/${id}/claim`, body);
      const t = d.task || d;
      console.log(`✓ Task ${id} claimed`);
      console.log(`  Assignee: ${t.assignee_name}`);
      console.log(`  Lease expires: ${new Date(t.lease_expires).toLocaleString()}`);
      return;
    }
    case 'complete': {
      need(id, 'Task ID');
      let body = {};
      if (flags.outputs) {
        const o = JSON.parse(flags.outputs);
        body = { outputs: Array.isArray(o) ? o : [o] };
      }
      await request('POST', `${base}/${id}/complete`, body);
      console.log(`✓ Task ${id} completed`);
      return;
    }
    case 'fail': {
      need(id, 'Task ID');
      await request('POST', `${base}/${id}/fail`, flags.reason ? { reason: flags.reason } : {});
      console.log(`✓ Task ${id} marked as failed`);
      return;
    }
    case 'reopen': {
      need(id, 'Task ID');
      await request('POST', `${base}/${id}/reopen`, flags.reason ? { reason: flags.reason } : {});
      console.log(`✓ Task ${id} reopened`);
      return;
    }
    case 'update': {
      need(id, 'Task ID');
      const body = {};
      for (const k of ['title', 'description', 'priority', 'status', 'type', 'channel']) {
        if (flags[k] !== undefined) body[k] = k === 'priority' ? Number(flags[k]) : flags[k];
      }
      const r = await request('PATCH', `${base}/${id}`, body);
      console.log(`✓ Task ${id} updated`);
      return;
    }
    case 'message': {
      const sub = positional[1];
      if (!sub) { process.stderr.write('Subcommand required for: message\n'); process.exit(1); }
      if (sub === 'list') {
        const lid = positional[2];
        need(lid, 'Task ID');
        const d = await request('GET', `${base}/${lid}/messages`);
        const ms = Array.isArray(d) ? d : (d.messages || []);
        if (ms.length === 0) { console.log('No messages found.'); return; }
        console.log(JSON.stringify(ms, null, 2));
        return;
      }
      if (sub !== 'add') { process.stderr.write(`Unknown subcommand: message ${sub}\n`); process.exit(1); }
      const tid = positional[2];
      const content = positional[3];
      need(tid, 'Task ID');
      need(content, 'Message content');
      const d = await request('POST', `${base}/${tid}/messages`,
          { parts: [{ type: flags.type || 'text', content }] });
      console.log(`✓ Message added to task ${tid}`);
      if (format === 'json') console.log(JSON.stringify(d.message || d, null, 2));
      return;
    }
    default:
      if (!cmd) { console.log('Usage: ats <command> [options]'); process.exit(1); }
      process.stderr.write(`Unknown command: ${cmd}\nRun 'ats --help' for usage.\n`);
      process.exit(1);
  }
}

main().catch((e) => {
  process.stderr.write(`Error: ${e.message}\n`);
  process.exit(1);
});
