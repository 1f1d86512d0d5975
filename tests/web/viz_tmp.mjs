import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { chromium } from 'playwright-core';
const [,, jsonPath, outPng, speed = '1', mark = '0'] = process.argv;
const a = JSON.parse(fs.readFileSync(jsonPath, 'utf8'));
if (mark === '1') { for (let i = 1200; i < 1500; i++) a.state[i] = 'maternal_suspected'; for (let i = 2400; i < 2520; i++) a.state[i] = 'doubtful'; a.movements_s = [100, 250, 260, 700]; }
const srv = spawn('/work/wt/web/build/fetalmon', ['serve', '--data', '/tmp/vizdata', '--listen', '127.0.0.1:0', '--set', 'web_dir=/work/wt/web/web']);
const port = await new Promise((r) => srv.stdout.on('data', (b) => { const m = String(b).match(/:(\d+)\n/); if (m) r(m[1]); }));
const b = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
const p = await b.newPage({ viewport: { width: 1440, height: 1100 } });
p.on('pageerror', (e) => console.log('ERR', e));
await p.goto(`http://127.0.0.1:${port}/#/login`);
await p.evaluate(async ([a, speed]) => {
  const { CtgView } = await import('/js/ctg.js');
  const { analysisPanel } = await import('/js/views/analysis.js');
  const main = document.querySelector('main'); main.replaceChildren(); main.className = 'page';
  const box = document.createElement('div'); box.id = 'trace'; const sec = document.createElement('section'); sec.className = 'trace-section'; sec.append(box); main.append(sec);
  const v = new CtgView(box, { speedCmMin: Number(speed) });
  v.setAnalysis(a, { startMs: Date.UTC(2026, 10, 24, 1, 30) });
  v.setAlerts([{ start_s: 300, end_s: 420, priority: 'medium' }, { start_s: 900, end_s: 1000, priority: 'high' }, { start_s: 1100, end_s: 1300, priority: 'low' }]);
  main.append(analysisPanel(a, { onJump: () => {} }));
}, [a, speed]);
await p.waitForTimeout(400);
await p.screenshot({ path: outPng, fullPage: true });
await b.close(); srv.kill();
