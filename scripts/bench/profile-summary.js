#!/usr/bin/env node
// Where a warden process spent its time: self time by function, and inclusive time of warden's
// own functions, from a V8 .cpuprofile (`npm run bench -- --profile DIR`, or node --cpu-prof).
// Usage: node scripts/bench/profile-summary.js FILE.cpuprofile [FROM_S TO_S] [--top N]
import fs from 'node:fs';

const args = process.argv.slice(2);
const topAt = args.indexOf('--top');
const top = topAt >= 0 ? Number(args.splice(topAt, 2)[1]) : 25;
const [file, fromS, toS] = args;
if (!file) {
  console.error('usage: node scripts/bench/profile-summary.js FILE.cpuprofile [FROM_S TO_S] [--top N]');
  process.exit(2);
}
const profile = JSON.parse(fs.readFileSync(file, 'utf8'));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const label = (cf) => `${cf.functionName || '(anonymous)'} ${cf.url.replace(/^.*\/(dist|node_modules)\//, '$1/') || ''}${cf.url ? `:${cf.lineNumber + 1}` : ''}`;

const from = fromS === undefined ? -Infinity : profile.startTime + Number(fromS) * 1e6;
const to = toS === undefined ? Infinity : profile.startTime + Number(toS) * 1e6;
const self = new Map();
const inclusive = new Map();
let total = 0;
let t = profile.startTime;
for (let i = 0; i < profile.samples.length; i++) {
  t += profile.timeDeltas[i];
  if (t < from || t > to) continue;
  const dt = profile.timeDeltas[i + 1] ?? 0;
  total += dt;
  const leaf = byId.get(profile.samples[i]);
  self.set(label(leaf.callFrame), (self.get(label(leaf.callFrame)) ?? 0) + dt);
  const seen = new Set();
  for (let id = leaf.id; id !== undefined; id = parent.get(id)) {
    const cf = byId.get(id).callFrame;
    if (!cf.url.includes('/dist/')) continue;
    const key = label(cf);
    if (seen.has(key)) continue;
    seen.add(key);
    inclusive.set(key, (inclusive.get(key) ?? 0) + dt);
  }
}
const ms = (us) => `${(us / 1000).toFixed(1).padStart(8)} ms ${((100 * us) / total).toFixed(1).padStart(5)}%`;
console.log(`${file}: ${(total / 1000).toFixed(0)} ms sampled`);
console.log('\nself time');
for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${ms(v)}  ${k}`);
console.log("\ninclusive time, warden's own functions");
for (const [k, v] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${ms(v)}  ${k}`);
