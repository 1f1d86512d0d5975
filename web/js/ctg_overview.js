// Overview strip of a whole recording above the CTG paper: the FHR compressed to the strip's
// width, lost / maternal stretches, events, and the part the paper shows; click or drag to move
// the paper there. Not true scale by design (it is a map); the paper below is.
import { FHR_HZ } from './ctg.js';
import { t } from './i18n.js';

const H = 46;

export class CtgOverview {
  constructor(container, ctg) {
    this.ctg = ctg;
    this.canvas = document.createElement('canvas');
    this.canvas.className = 'ctg-overview';
    this.canvas.setAttribute('role', 'slider');
    this.canvas.tabIndex = -1; /* the paper itself takes the keyboard */
    this.canvas.setAttribute('aria-label', t('overview_aria'));
    container.prepend(this.canvas);
    const move = (e) => {
      const r = this.canvas.getBoundingClientRect();
      const t = ((e.clientX - r.left) / r.width) * ctg.durationS();
      ctg.setFollow(false);
      ctg.scrollToTime(t - ctg._viewSeconds() / 2);
    };
    this.canvas.addEventListener('pointerdown', (e) => { this.drag = true; this.canvas.setPointerCapture(e.pointerId); move(e); });
    this.canvas.addEventListener('pointermove', (e) => { if (this.drag) move(e); });
    this.canvas.addEventListener('pointerup', () => { this.drag = false; });
    this._onScroll = () => this.draw();
    ctg.container.addEventListener('ctgdraw', this._onScroll);
    this._ro = new ResizeObserver(() => this.draw());
    this._ro.observe(this.canvas);
    this.draw();
  }

  draw() {
    if (this._pending) return;
    this._pending = true;
    requestAnimationFrame(() => { this._pending = false; this._draw(); });
  }

  _draw() {
    const c = this.canvas, ctg = this.ctg, dpr = window.devicePixelRatio || 1;
    const w = c.clientWidth;
    if (!w) return;
    c.width = Math.round(w * dpr); c.height = Math.round(H * dpr);
    const g = c.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.fillStyle = '#fbfaf6'; g.fillRect(0, 0, w, H);
    const dur = Math.max(1, ctg.durationS()), n = ctg.n;
    const X = (t) => (t / dur) * w;
    const Y = (bpm) => 4 + ((210 - Math.min(210, Math.max(50, bpm))) / 160) * (H - 12);
    g.fillStyle = 'rgba(120, 170, 120, 0.15)';
    g.fillRect(0, Y(160), w, Y(110) - Y(160));
    const a = ctg.analysis;
    for (const [list, col] of [[a.accelerations, 'rgba(46,139,87,.45)'], [a.decelerations, 'rgba(214,110,30,.5)']]) {
      if (!Array.isArray(list)) continue;
      g.fillStyle = col;
      for (const ev of list) g.fillRect(X(ev.start_s), 0, Math.max(1, X(ev.end_s) - X(ev.start_s)), 3);
    }
    /* min/max per pixel column: every sample counts, nothing is smoothed away */
    g.strokeStyle = '#14213d'; g.lineWidth = 1;
    g.beginPath();
    const per = n / w;
    for (let x = 0; x < w; x++) {
      let lo = Infinity, hi = -Infinity;
      for (let i = Math.floor(x * per); i < Math.min(n, Math.floor((x + 1) * per) + 1); i++) {
        const v = ctg.fhr[i];
        if (!Number.isNaN(v) && ctg.state[i] === 0) { if (v < lo) lo = v; if (v > hi) hi = v; }
      }
      if (lo <= hi) { g.moveTo(x + 0.5, Y(hi)); g.lineTo(x + 0.5, Y(lo) + 0.5); }
    }
    g.stroke();
    const colors = [null, '#c9c9c9', '#b3128f', '#8d8d8d'];
    for (let i = 0; i < n;) {
      const st = ctg.state[i];
      let j = i + 1;
      while (j < n && ctg.state[j] === st) j++;
      if (colors[st]) { g.fillStyle = colors[st]; g.fillRect(X(i / FHR_HZ), H - 5, Math.max(1, X(j / FHR_HZ) - X(i / FHR_HZ)), 4); }
      i = j;
    }
    const v0 = ctg.viewStartS(), v1 = v0 + ctg._viewSeconds();
    g.fillStyle = 'rgba(29, 95, 168, 0.10)';
    g.fillRect(X(v0), 0, X(Math.min(v1, dur)) - X(v0), H);
    g.strokeStyle = '#1d5fa8'; g.lineWidth = 1.5;
    g.strokeRect(X(v0) + 0.75, 0.75, Math.max(2, X(Math.min(v1, dur)) - X(v0) - 1.5), H - 1.5);
    if (ctg.cursorS != null) { g.fillStyle = '#0057b8'; g.fillRect(X(ctg.cursorS) - 1, 0, 2, H); }
  }

  destroy() {
    this.ctg.container.removeEventListener('ctgdraw', this._onScroll);
    this._ro.disconnect();
    this.canvas.remove();
  }
}
