// CTG trace renderer: draws a 4 Hz fetal heart rate trace on CTG paper at true physical scale
// (CLINICAL 6), from the engine's analysis JSON (README "Analysis JSON", docs/ctg.md) and from
// live samples (append). One canvas in a native horizontal scroller, so scrolling, keyboard and
// trackpads behave as everywhere else. Not for fetching data, alerts logic or the analysis panel.
//
//   const ctg = new CtgView(containerElement, {scale: 'intl', speedCmMin: 1, pxPerCm});
//   ctg.setAnalysis(json, {startMs});     // review: whatever keys are present are drawn
//   ctg.append({fhr: [...], state: [...]}); ctg.setFollow(true);   // live, 4 Hz
//   ctg.setCursor(t_s); ctg.setAlerts([{start_s, end_s, priority}]); ctg.destroy();

import { t as tr } from './i18n.js';

/* CLINICAL 6: the two paper scales; CLINICAL 1: 4 Hz, 0/NaN/null = no signal. */
export const SCALES = {
  intl: { minBpm: 50, maxBpm: 210, bpmPerCm: 20, minorBpm: 10, majorBpm: 20, labelBpm: 20 },
  us: { minBpm: 30, maxBpm: 240, bpmPerCm: 30, minorBpm: 10, majorBpm: 30, labelBpm: 30 },
};
export const PAPER_SPEEDS_CM_MIN = [1, 2, 3];
export const NORMAL_BAND_BPM = [110, 160]; /* CLINICAL 4.1 normal baseline, shaded on paper */
export const FHR_HZ = 4;
export const DEFAULT_PX_PER_CM = 96 / 2.54; /* CSS reference pixel; calibrate per screen */

const STATE = { ok: 0, lost: 1, maternal_suspected: 2, doubtful: 3 };
const STATE_NAMES = ['ok', 'lost', 'maternal_suspected', 'doubtful'];

/* Layout in CSS px (the paper itself is sized in cm). */
const GUTTER_L = 44;
const TOP_STRIP = 22;   /* movement marks, acceleration/deceleration labels */
const STATE_STRIP = 10; /* per-sample signal state */
const ALERT_STRIP = 14; /* alert bands */
const AXIS_H = 32;      /* minutes + wall clock */

const COLORS = {
  paper: '#fffdf7',
  band: 'rgba(120, 170, 120, 0.13)',
  minor: '#f1cfc2',
  major: '#de9a82',
  label: '#8a4b36',
  fhr: '#14213d',
  mhr: '#1f6fd1',
  maternal: '#b3128f',
  doubtful: '#8d8d8d',
  baseline: '#0b7a75',
  fitted: '#6b8f8d',
  accel: 'rgba(46, 139, 87, 0.28)',
  accelMark: '#2e7d4f',
  decel: 'rgba(214, 110, 30, 0.28)',
  decelMark: '#b85a12',
  decelProlonged: '#c62828',
  movement: '#222',
  lost: '#c9c9c9',
  cursor: '#0057b8',
  alert: { high: '#d32f2f', medium: '#f2c200', low: '#29b6d8' },
  axis: '#444',
};

export class CtgView {
  constructor(container, opts = {}) {
    this.container = container;
    this.scaleName = opts.scale || 'intl';
    this.speedCmMin = opts.speedCmMin || 1;
    this.pxPerCm = opts.pxPerCm || DEFAULT_PX_PER_CM;
    this.zoom = 1; /* 1 = true scale; anything else is announced on screen */
    this.startMs = null;
    this.n = 0;
    this.fhr = new Float32Array(4096);
    this.mhr = null;
    this.state = new Uint8Array(4096);
    this.movements = [];
    this.analysis = {};
    this.alerts = [];
    this.cursorS = null;
    this.hoverS = null;
    this.follow = false;
    this.lastAppendAt = 0;
    this.onSeek = opts.onSeek || null;
    this._build();
    container.ctgView = this; /* for tests and the console */
    this._resizeObs = new ResizeObserver(() => this._layout());
    this._resizeObs.observe(this.scroller);
    this._watchDpr();
    this._layout();
  }

  /* A window moved to a screen of another pixel density: redraw the backing store at it.
   * Media-query and resize events are not raised for every such change (e.g. emulated
   * densities), so a once-a-second comparison backs them up; it costs nothing when unchanged. */
  _watchDpr() {
    this._dprTimer = setInterval(() => {
      if ((window.devicePixelRatio || 1) !== this._drawnDpr) this.draw();
    }, 1000);
  }

  _build() {
    const c = this.container;
    c.classList.add('ctg');
    this.scroller = document.createElement('div');
    this.scroller.className = 'ctg-scroller';
    this.scroller.tabIndex = 0;
    this.scroller.setAttribute('role', 'img');
    this.scroller.setAttribute('aria-roledescription', 'CTG trace');
    this.spacer = document.createElement('div');
    this.spacer.className = 'ctg-spacer';
    this.canvas = document.createElement('canvas');
    this.canvas.className = 'ctg-canvas';
    this.scroller.append(this.canvas, this.spacer);
    this.readout = document.createElement('div');
    this.readout.className = 'ctg-readout';
    this.readout.setAttribute('aria-live', 'polite');
    c.append(this.scroller, this.readout);
    this.scroller.addEventListener('scroll', () => {
      if (!this._programmatic) this.follow = this.follow && this._atEnd();
      this._programmatic = false;
      this.draw();
    });
    this.scroller.addEventListener('keydown', (e) => this._key(e));
    this.scroller.addEventListener('wheel', (e) => {
      if (!e.ctrlKey) return;
      e.preventDefault();
      const t = this._timeAtClientX(e.clientX);
      this.setZoom(this.zoom * (e.deltaY < 0 ? 1.25 : 0.8), t);
    }, { passive: false });
    this.canvas.addEventListener('pointermove', (e) => {
      this.hoverS = this._timeAtClientX(e.clientX);
      this.draw();
    });
    this.canvas.addEventListener('pointerleave', () => { this.hoverS = null; this.draw(); });
    this.canvas.addEventListener('click', (e) => {
      const t = this._timeAtClientX(e.clientX);
      if (this.onSeek && t != null && t >= 0 && t <= this.durationS()) this.onSeek(t);
    });
  }

  /* ---- data ---- */

  _ensure(cap) {
    if (cap <= this.fhr.length) return;
    let size = this.fhr.length;
    while (size < cap) size *= 2;
    const f = new Float32Array(size); f.set(this.fhr.subarray(0, this.n)); this.fhr = f;
    const s = new Uint8Array(size); s.set(this.state.subarray(0, this.n)); this.state = s;
    if (this.mhr) { const m = new Float32Array(size); m.set(this.mhr.subarray(0, this.n)); this.mhr = m; }
  }

  /* One sample: null, 0, NaN or out of 50..240 = no signal (CLINICAL 1). Never interpolated. */
  static _value(v) {
    return typeof v === 'number' && Number.isFinite(v) && v >= 50 && v <= 240 ? v : NaN;
  }

  _push(fhrArr, stateArr, mhrArr) {
    const k = fhrArr.length;
    this._ensure(this.n + k);
    if (mhrArr && !this.mhr) { this.mhr = new Float32Array(this.fhr.length).fill(NaN); }
    for (let i = 0; i < k; i++) {
      const v = CtgView._value(fhrArr[i]);
      this.fhr[this.n + i] = v;
      /* states as names (analysis JSON) or as numbers 0..3 (the live feed's samples) */
      const raw = stateArr ? stateArr[i] : undefined;
      const st = typeof raw === 'number' ? (raw >= 0 && raw <= 3 ? raw : undefined) : STATE[raw];
      this.state[this.n + i] = st !== undefined ? st : (Number.isNaN(v) ? STATE.lost : STATE.ok);
      if (this.mhr) this.mhr[this.n + i] = mhrArr ? CtgView._value(mhrArr[i]) : NaN;
    }
    this.n += k;
  }

  /* Live: samples i0, i0+1, ... that were drawn as a gap because they had not arrived (a viewer
   * that opened mid-stream) are written in place when they do; indexes past n are ignored. */
  fill(i0, fhrArr, stateArr) {
    let changed = 0;
    for (let j = 0; j < fhrArr.length; j++) {
      const i = i0 + j;
      if (i < 0 || i >= this.n) continue;
      const v = CtgView._value(fhrArr[j]);
      const raw = stateArr ? stateArr[j] : undefined;
      const st = typeof raw === 'number' ? (raw >= 0 && raw <= 3 ? raw : undefined) : STATE[raw];
      this.fhr[i] = v;
      this.state[i] = st !== undefined ? st : (Number.isNaN(v) ? STATE.lost : STATE.ok);
      changed++;
    }
    if (changed) this.draw();
    return changed;
  }

  /* Review: the whole analysis JSON. Keys that are absent are simply not drawn. */
  setAnalysis(a, opts = {}) {
    this.n = 0;
    this.mhr = null;
    this.analysis = a || {};
    this.startMs = opts.startMs ?? null;
    this._push(a.fhr || [], a.state, a.mhr);
    this.movements = Array.isArray(a.movements_s) ? a.movements_s.slice() : [];
    this._layout();
  }

  /* Live: more samples (4 Hz), optionally movement marks and a newer analysis. */
  append(chunk) {
    if (chunk.fhr) this._push(chunk.fhr, chunk.state, chunk.mhr);
    if (chunk.movements_s) this.movements.push(...chunk.movements_s);
    if (chunk.analysis) this.analysis = { ...this.analysis, ...chunk.analysis };
    this.lastAppendAt = performance.now();
    this._layout();
    if (this.follow) this._startFollow();
  }

  /* Replaces the state of samples i0, i0+1, ... already drawn (the live false-signal detector's
   * samples_marked corrections); samples not drawn yet are ignored. */
  remark(i0, states) {
    let changed = 0;
    states.forEach((st, j) => {
      const i = i0 + j;
      if (i >= 0 && i < this.n && st >= 0 && st <= 3) { this.state[i] = st; changed++; }
    });
    if (changed) this.draw();
    return changed;
  }

  setAlerts(list) { this.alerts = Array.isArray(list) ? list : []; this.draw(); }
  setCursor(t) { this.cursorS = t; this._keepVisible(t); this.draw(); }
  setFollow(on) { this.follow = !!on; if (on) this._startFollow(); }
  setScale(name) { if (SCALES[name]) { this.scaleName = name; this._layout(); } }
  setSpeed(cmMin) {
    const t = this.viewStartS();
    this.speedCmMin = cmMin; this._layout(); this.scrollToTime(t);
  }
  setPxPerCm(px) { const t = this.viewStartS(); this.pxPerCm = px; this._layout(); this.scrollToTime(t); }
  setZoom(z, anchorS) {
    z = Math.min(8, Math.max(0.125, z));
    if (Math.abs(z - 1) < 0.02) z = 1;
    const anchor = anchorS ?? this.viewStartS() + this._viewSeconds() / 2;
    const frac = (anchor - this.viewStartS()) / this._viewSeconds();
    this.zoom = z;
    this._layout();
    this.scrollToTime(anchor - frac * this._viewSeconds());
    this.container.dispatchEvent(new CustomEvent('ctgzoom', { detail: { zoom: z } }));
  }

  durationS() { return this.n / FHR_HZ; }
  isTrueScale() { return this.zoom === 1; }

  /* ---- geometry ---- */

  pxPerS() { return (this.speedCmMin * this.pxPerCm * this.zoom) / 60; }
  _scale() { return SCALES[this.scaleName]; }
  paperHeightPx() { const s = this._scale(); return ((s.maxBpm - s.minBpm) / s.bpmPerCm) * this.pxPerCm; }
  _paperTop() { return TOP_STRIP; }
  _yOf(bpm) {
    const s = this._scale();
    return this._paperTop() + ((s.maxBpm - bpm) / s.bpmPerCm) * this.pxPerCm;
  }
  _viewWidth() { return Math.max(50, this.scroller.clientWidth - GUTTER_L); }
  _viewSeconds() { return this._viewWidth() / this.pxPerS(); }
  viewStartS() { return this.scroller.scrollLeft / this.pxPerS(); }
  _timeAtClientX(clientX) {
    const r = this.canvas.getBoundingClientRect();
    const x = clientX - r.left - GUTTER_L;
    if (x < 0) return null;
    return this.viewStartS() + x / this.pxPerS();
  }
  _atEnd() { return this.scroller.scrollLeft + this.scroller.clientWidth >= this.scroller.scrollWidth - 2; }

  scrollToTime(t) {
    this._programmatic = true;
    this.scroller.scrollLeft = Math.max(0, t * this.pxPerS());
    this.draw();
  }
  _keepVisible(t) {
    if (t == null) return;
    const a = this.viewStartS(), w = this._viewSeconds();
    if (t < a || t > a + w * 0.95) this.scrollToTime(t - w * 0.1);
  }

  _layout() {
    const h = TOP_STRIP + this.paperHeightPx() + STATE_STRIP + ALERT_STRIP + AXIS_H;
    /* Live: keep a little paper ahead of the pen, as on a monitor. */
    const ahead = this.follow ? 30 : 0;
    const total = Math.max(this._viewWidth(), (this.durationS() + ahead) * this.pxPerS());
    this.spacer.style.width = `${GUTTER_L + total}px`;
    this.scroller.style.height = `${h + 16}px`; /* room for the scrollbar */
    this.cssH = h;
    /* for tests and the toolbar: the paper's size on screen */
    this.container.dataset.paperHeightPx = this.paperHeightPx().toFixed(2);
    this.container.dataset.pxPerMin = (this.pxPerS() * 60).toFixed(2);
    this.draw();
  }

  _key(e) {
    const w = this._viewSeconds();
    const keys = {
      ArrowRight: () => this.scrollToTime(this.viewStartS() + 60),
      ArrowLeft: () => this.scrollToTime(this.viewStartS() - 60),
      PageDown: () => this.scrollToTime(this.viewStartS() + w * 0.9),
      PageUp: () => this.scrollToTime(this.viewStartS() - w * 0.9),
      Home: () => this.scrollToTime(0),
      End: () => this.scrollToTime(this.durationS()),
      '+': () => this.setZoom(this.zoom * 1.25),
      '=': () => this.setZoom(this.zoom * 1.25),
      '-': () => this.setZoom(this.zoom * 0.8),
      '0': () => this.setZoom(1),
    };
    if (keys[e.key]) { e.preventDefault(); keys[e.key](); }
  }

  /* Smooth live scrolling: between 4 Hz samples the paper keeps moving at its speed, the pen
   * position being extrapolated from the time of the last sample for at most one second. */
  _startFollow() {
    if (this._raf) return;
    const step = () => {
      this._raf = null;
      if (!this.follow) return;
      const since = Math.min(1, (performance.now() - this.lastAppendAt) / 1000);
      const penS = this.durationS() + since;
      const target = Math.max(0, penS - this._viewSeconds() * 0.85);
      this._programmatic = true;
      this.scroller.scrollLeft = target * this.pxPerS();
      this.draw();
      this._raf = requestAnimationFrame(step);
    };
    this._raf = requestAnimationFrame(step);
  }

  destroy() {
    this._destroyed = true;
    clearInterval(this._dprTimer);
    this.follow = false;
    if (this._raf) cancelAnimationFrame(this._raf);
    this._resizeObs.disconnect();
    this.container.replaceChildren();
  }

  /* ---- drawing ---- */

  draw() {
    if (this._drawPending) return;
    this._drawPending = true;
    requestAnimationFrame(() => { this._drawPending = false; this._drawNow(); });
  }

  _drawNow() {
    const dpr = window.devicePixelRatio || 1;
    this._drawnDpr = dpr;
    const wCss = this.scroller.clientWidth, hCss = this.cssH;
    if (!wCss) return;
    const cv = this.canvas;
    cv.style.width = `${wCss}px`;
    cv.style.height = `${hCss}px`;
    if (cv.width !== Math.round(wCss * dpr) || cv.height !== Math.round(hCss * dpr)) {
      cv.width = Math.round(wCss * dpr);
      cv.height = Math.round(hCss * dpr);
    }
    const g = cv.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, wCss, hCss);
    const t0 = this.viewStartS(), t1 = t0 + this._viewSeconds();
    const X = (t) => GUTTER_L + (t - t0) * this.pxPerS();
    const ctx = { g, t0, t1, X, w: wCss };

    this._drawPaper(ctx);
    g.save();
    g.beginPath();
    g.rect(GUTTER_L, 0, wCss - GUTTER_L, hCss);
    g.clip();
    this._drawGrid(ctx);
    this._drawEvents(ctx);
    this._drawBaselines(ctx);
    this._drawTrace(ctx);
    this._drawMovements(ctx);
    this._drawStateStrip(ctx);
    this._drawAlertStrip(ctx);
    this._drawTimeAxis(ctx);
    this._drawCursor(ctx);
    g.restore();
    this._drawBpmAxis(ctx);
    this._updateReadout();
    this.container.dispatchEvent(new Event('ctgdraw')); /* the overview follows the paper */
  }

  _drawPaper({ g, w }) {
    const top = this._paperTop(), ph = this.paperHeightPx();
    g.fillStyle = '#fff';
    g.fillRect(0, 0, w, this.cssH);
    g.fillStyle = COLORS.paper;
    g.fillRect(GUTTER_L, top, w - GUTTER_L, ph);
    const yb0 = this._yOf(NORMAL_BAND_BPM[1]), yb1 = this._yOf(NORMAL_BAND_BPM[0]);
    g.fillStyle = COLORS.band;
    g.fillRect(GUTTER_L, yb0, w - GUTTER_L, yb1 - yb0);
  }

  /* Time grid steps (s) for the paper speed: minor lines every 0.5 cm, bold every minute. */
  _timeSteps() {
    const cmPerMin = this.speedCmMin * this.zoom;
    const minor = [10, 15, 20, 30, 60, 120, 300, 600].find((s) => (s / 60) * cmPerMin >= 0.45) || 600;
    const major = [60, 120, 300, 600, 1800].find((s) => s >= minor * 2 && (s / 60) * cmPerMin >= 0.95) || 1800;
    const label = [60, 120, 300, 600, 1800].find((s) => s >= major && (s / 60) * cmPerMin * this.pxPerCm >= 44) || 1800;
    return { minor, major, label };
  }

  _drawGrid({ g, t0, t1, X, w }) {
    const s = this._scale(), top = this._paperTop(), bottom = top + this.paperHeightPx();
    g.lineWidth = 1;
    for (let b = s.minBpm; b <= s.maxBpm; b += s.minorBpm) {
      const major = (b - s.minBpm) % s.majorBpm === 0;
      g.strokeStyle = major ? COLORS.major : COLORS.minor;
      g.lineWidth = major ? 1 : 0.6;
      const y = Math.round(this._yOf(b)) + 0.5;
      g.beginPath(); g.moveTo(GUTTER_L, y); g.lineTo(w, y); g.stroke();
    }
    const { minor, major } = this._timeSteps();
    for (let t = Math.floor(t0 / minor) * minor; t <= t1; t += minor) {
      if (t < 0) continue;
      const isMajor = t % major === 0;
      g.strokeStyle = isMajor ? COLORS.major : COLORS.minor;
      g.lineWidth = isMajor ? (t % 600 === 0 ? 1.6 : 1) : 0.6;
      const x = Math.round(X(t)) + 0.5;
      g.beginPath(); g.moveTo(x, top); g.lineTo(x, bottom); g.stroke();
    }
    /* bpm numbers printed on the paper every 10 cm, as on real CTG paper */
    const every = (10 / (this.speedCmMin * this.zoom)) * 60;
    g.fillStyle = COLORS.label;
    g.font = '10px system-ui, sans-serif';
    g.textBaseline = 'middle';
    for (let t = Math.ceil(t0 / every) * every; t <= t1; t += every) {
      if (t <= 0) continue;
      for (let b = s.minBpm + s.labelBpm; b < s.maxBpm; b += s.labelBpm)
        g.fillText(String(b), X(t) + 3, this._yOf(b));
    }
  }

  _drawBpmAxis({ g }) {
    const s = this._scale();
    g.fillStyle = '#fff';
    g.fillRect(0, 0, GUTTER_L, this.cssH);
    g.fillStyle = COLORS.axis;
    g.font = '11px system-ui, sans-serif';
    g.textAlign = 'right';
    g.textBaseline = 'middle';
    for (let b = s.minBpm; b <= s.maxBpm; b += s.labelBpm) g.fillText(String(b), GUTTER_L - 6, this._yOf(b) + (b === s.minBpm ? -5 : 0));
    g.save();
    g.translate(10, this._paperTop() + this.paperHeightPx() / 2);
    g.rotate(-Math.PI / 2);
    g.textAlign = 'center';
    g.fillText('FHR bpm', 0, 0);
    g.restore();
    g.textAlign = 'left';
    const y0 = this._paperTop() + this.paperHeightPx();
    g.font = '9px system-ui, sans-serif';
    g.fillStyle = '#777';
    g.fillText(tr('ctg_signal'), 2, y0 + STATE_STRIP / 2 + 1);
    g.fillText(tr('ctg_alerts'), 2, y0 + STATE_STRIP + ALERT_STRIP / 2);
    g.fillText(tr('ctg_min'), 2, y0 + STATE_STRIP + ALERT_STRIP + 10);
    if (this.startMs != null) g.fillText(tr('ctg_time'), 2, y0 + STATE_STRIP + ALERT_STRIP + 24);
  }

  _visibleRange(t0, t1) {
    const i0 = Math.max(0, Math.floor(t0 * FHR_HZ) - 1);
    const i1 = Math.min(this.n, Math.ceil(t1 * FHR_HZ) + 2);
    return [i0, i1];
  }

  /* Accelerations and decelerations: the area between the baseline and the trace is tinted
   * over the event's extent (a bar in the top strip when there is no baseline), with a mark
   * at the peak / nadir: A above, D (PD when prolonged) below. */
  _drawEvents({ g, t0, t1, X }) {
    const a = this.analysis;
    const base = Array.isArray(a.baseline) ? a.baseline : null;
    const kinds = [
      [Array.isArray(a.accelerations) ? a.accelerations : [], true],
      [Array.isArray(a.decelerations) ? a.decelerations : [], false],
    ];
    g.font = 'bold 10px system-ui, sans-serif';
    g.textBaseline = 'middle';
    g.textAlign = 'center';
    for (const [list, up] of kinds) {
      for (const ev of list) {
        if (!(ev.end_s >= t0 && ev.start_s <= t1)) continue;
        const mark = up ? COLORS.accelMark : ev.prolonged ? COLORS.decelProlonged : COLORS.decelMark;
        g.fillStyle = up ? COLORS.accel : COLORS.decel;
        if (base) this._fillBetween(g, X, ev.start_s, ev.end_s, base);
        g.fillStyle = mark;
        g.globalAlpha = 0.55;
        g.fillRect(X(ev.start_s), 19, X(ev.end_s) - X(ev.start_s), 2);
        g.globalAlpha = 1;
        const xm = X((up ? ev.peak_s : ev.nadir_s) ?? (ev.start_s + ev.end_s) / 2);
        g.beginPath();
        if (up) { g.moveTo(xm - 5, 17); g.lineTo(xm + 5, 17); g.lineTo(xm, 10); }
        else { g.moveTo(xm - 5, 10); g.lineTo(xm + 5, 10); g.lineTo(xm, 17); }
        g.closePath(); g.fill();
        g.fillText(up ? 'A' : ev.prolonged ? 'PD' : 'D', xm, 4.5);
      }
    }
    g.textAlign = 'left';
  }

  /* Fills between the trace and the baseline from t0 to t1, broken at gaps (no value, no fill). */
  _fillBetween(g, X, ta, tb, base) {
    const i0 = Math.max(0, Math.floor(ta * FHR_HZ)), i1 = Math.min(this.n - 1, Math.ceil(tb * FHR_HZ));
    let run = [];
    const flush = () => {
      if (run.length > 1) {
        g.beginPath();
        run.forEach((i, k) => (k ? g.lineTo(X(i / FHR_HZ), this._yOf(this.fhr[i])) : g.moveTo(X(i / FHR_HZ), this._yOf(this.fhr[i]))));
        for (let k = run.length - 1; k >= 0; k--) g.lineTo(X(run[k] / FHR_HZ), this._yOf(base[run[k]]));
        g.closePath();
        g.fill();
      }
      run = [];
    };
    for (let i = i0; i <= i1; i++) {
      if (Number.isNaN(this.fhr[i]) || typeof base[i] !== 'number' || this.state[i] !== STATE.ok) flush();
      else run.push(i);
    }
    flush();
  }

  _drawSeries({ g, t0, t1, X }, arr, color, width, dash) {
    if (!Array.isArray(arr) || !arr.length) return;
    const i0 = Math.max(0, Math.floor(t0 * FHR_HZ) - 1), i1 = Math.min(arr.length, Math.ceil(t1 * FHR_HZ) + 2);
    g.strokeStyle = color; g.lineWidth = width; g.setLineDash(dash);
    g.beginPath();
    let pen = false;
    for (let i = i0; i < i1; i++) {
      const v = arr[i];
      if (typeof v !== 'number') { pen = false; continue; }
      const x = X(i / FHR_HZ), y = this._yOf(v);
      if (pen) g.lineTo(x, y); else g.moveTo(x, y);
      pen = true;
    }
    g.stroke();
    g.setLineDash([]);
  }

  _drawBaselines(ctx) {
    this._drawSeries(ctx, this.analysis.baseline_fitted, COLORS.fitted, 1, [2, 3]);
    this._drawSeries(ctx, this.analysis.baseline, COLORS.baseline, 1.4, [7, 4]);
  }

  /* The trace: one polyline per run of drawable samples; a gap wherever there is no value
   * (CLINICAL 2: gaps are gaps). Maternal-suspected and doubtful stretches get their own
   * colour and dash and a label, so they are never read as fetal. */
  _drawTrace(ctx) {
    const { g, t0, t1, X } = ctx;
    const [i0, i1] = this._visibleRange(t0, t1);
    if (this.mhr) {
      g.strokeStyle = COLORS.mhr; g.lineWidth = 1; g.setLineDash([]);
      this._polyline(g, X, i0, i1, (i) => this.mhr[i], () => true);
    }
    const styles = [
      [STATE.ok, COLORS.fhr, 1.3, []],
      [STATE.doubtful, COLORS.doubtful, 1.3, [3, 2]],
      [STATE.maternal_suspected, COLORS.maternal, 1.6, [5, 2]],
    ];
    for (const [st, color, width, dash] of styles) {
      g.strokeStyle = color; g.lineWidth = width; g.setLineDash(dash);
      this._polyline(g, X, i0, i1, (i) => this.fhr[i], (i) => this.state[i] === st);
    }
    g.setLineDash([]);
    /* labels at the start of each maternal / doubtful stretch (>= 5 s) in view */
    g.font = 'bold 10px system-ui, sans-serif';
    g.textBaseline = 'alphabetic';
    for (let i = i0; i < i1; i++) {
      const st = this.state[i];
      if ((st !== STATE.maternal_suspected && st !== STATE.doubtful) || (i > 0 && this.state[i - 1] === st)) continue;
      let j = i;
      while (j < this.n && this.state[j] === st) j++;
      if (j - i < 5 * FHR_HZ) continue;
      const x = Math.max(X(i / FHR_HZ), GUTTER_L + 2);
      const y = this._paperTop() + 12;
      g.fillStyle = st === STATE.maternal_suspected ? COLORS.maternal : COLORS.doubtful;
      g.fillText(st === STATE.maternal_suspected ? tr('lg_maternal') : tr('lg_doubtful'), x + 2, y);
      i = j;
    }
  }

  _polyline(g, X, i0, i1, valueOf, include) {
    g.beginPath();
    let pen = false;
    for (let i = i0; i < i1; i++) {
      const v = valueOf(i);
      if (Number.isNaN(v) || !include(i)) { pen = false; continue; }
      const x = X(i / FHR_HZ), y = this._yOf(Math.min(Math.max(v, this._scale().minBpm), this._scale().maxBpm));
      if (pen) g.lineTo(x, y);
      else { g.moveTo(x, y); g.lineTo(x + 0.6, y); } /* an isolated sample still shows */
      pen = true;
    }
    g.stroke();
  }

  _drawMovements({ g, t0, t1, X }) {
    g.strokeStyle = COLORS.movement; g.fillStyle = COLORS.movement; g.lineWidth = 1.5;
    const y = this._paperTop() + this.paperHeightPx();
    for (const m of this.movements) {
      if (m < t0 - 1 || m > t1 + 1) continue;
      const x = X(m);
      g.beginPath(); g.moveTo(x, y - 14); g.lineTo(x, y - 2); g.stroke();
      g.beginPath(); g.moveTo(x - 4, y - 10); g.lineTo(x + 4, y - 10); g.lineTo(x, y - 16); g.closePath(); g.fill();
    }
  }

  _drawStateStrip({ g, t0, t1, X }) {
    const y = this._paperTop() + this.paperHeightPx() + 1;
    const [i0, i1] = this._visibleRange(t0, t1);
    const colors = [null, COLORS.lost, COLORS.maternal, COLORS.doubtful];
    for (let i = i0; i < i1;) {
      const st = this.state[i];
      let j = i + 1;
      while (j < i1 && this.state[j] === st) j++;
      if (colors[st]) {
        g.fillStyle = colors[st];
        g.fillRect(X(i / FHR_HZ), y, Math.max(1, X(j / FHR_HZ) - X(i / FHR_HZ)), STATE_STRIP - 2);
      }
      i = j;
    }
    /* the part of the paper not yet written (live) */
    const end = this.durationS();
    if (end < t1) {
      g.fillStyle = 'rgba(0,0,0,0.03)';
      g.fillRect(X(end), this._paperTop(), X(t1) - X(end), this.paperHeightPx());
    }
  }

  /* Alert bands: IEC 60601-1-8 colours, highest priority on top. */
  _drawAlertStrip({ g, t0, t1, X }) {
    const y = this._paperTop() + this.paperHeightPx() + STATE_STRIP;
    g.fillStyle = '#f4f5f7';
    g.fillRect(GUTTER_L, y, X(t1) - GUTTER_L, ALERT_STRIP - 2);
    const order = { low: 0, medium: 1, high: 2 };
    const list = this.alerts.slice().sort((a, b) => (order[a.priority] ?? 0) - (order[b.priority] ?? 0));
    for (const al of list) {
      const s = al.start_s ?? 0, e = al.end_s ?? this.durationS();
      if (e < t0 || s > t1) continue;
      g.fillStyle = COLORS.alert[al.priority] || COLORS.alert.low;
      g.fillRect(X(s), y, Math.max(2, X(e) - X(s)), ALERT_STRIP - 2);
    }
  }

  _drawTimeAxis({ g, t0, t1, X }) {
    const y = this._paperTop() + this.paperHeightPx() + STATE_STRIP + ALERT_STRIP;
    const { label } = this._timeSteps();
    g.fillStyle = COLORS.axis;
    g.font = '11px system-ui, sans-serif';
    g.textBaseline = 'top';
    g.textAlign = 'center';
    for (let t = Math.max(0, Math.floor(t0 / label) * label); t <= t1; t += label) {
      const x = X(t);
      g.fillRect(Math.round(x), y, 1, 4);
      g.textAlign = x < GUTTER_L + 8 ? 'left' : 'center';
      g.fillText(`${Math.round(t / 60)}′`, x, y + 4);
      if (this.startMs != null) {
        const d = new Date(this.startMs + t * 1000);
        g.fillStyle = '#666';
        g.fillText(d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', hour12: false }), x, y + 17);
        g.fillStyle = COLORS.axis;
      }
    }
    g.textAlign = 'left';
  }

  _drawCursor({ g, X }) {
    const top = 0, bottom = this._paperTop() + this.paperHeightPx() + STATE_STRIP + ALERT_STRIP;
    if (this.cursorS != null) {
      g.strokeStyle = COLORS.cursor; g.lineWidth = 2;
      const x = X(this.cursorS);
      g.beginPath(); g.moveTo(x, top); g.lineTo(x, bottom); g.stroke();
    }
    if (this.hoverS != null) {
      g.strokeStyle = 'rgba(0,0,0,0.35)'; g.lineWidth = 1; g.setLineDash([2, 2]);
      const x = Math.round(X(this.hoverS)) + 0.5;
      g.beginPath(); g.moveTo(x, this._paperTop()); g.lineTo(x, bottom); g.stroke();
      g.setLineDash([]);
    }
  }

  /* A text readout of the sample under the pointer (or the cursor): time, FHR, state. */
  _updateReadout() {
    const t = this.hoverS ?? this.cursorS;
    const scaleNote = (this.isTrueScale() ? '' : tr('ctg_zoom_note', { z: this.zoom.toFixed(2) })) +
      (this.startMs == null ? tr('ctg_start_unknown') : '');
    if (t == null || t < 0 || t >= this.durationS()) {
      this.readout.textContent = `${this.speedCmMin} cm/min · ${this._scale().bpmPerCm} bpm/cm${scaleNote}`;
      return;
    }
    const i = Math.floor(t * FHR_HZ), v = this.fhr[i];
    const mm = Math.floor(t / 60), ss = Math.floor(t % 60).toString().padStart(2, '0');
    const val = Number.isNaN(v) ? tr('ctg_no_signal') : `${Math.round(v)} bpm`;
    const st = STATE_NAMES[this.state[i]];
    const base = Array.isArray(this.analysis.baseline) ? this.analysis.baseline[i] : null;
    this.readout.textContent = `${mm}:${ss} · FHR ${val}${st !== 'ok' ? ` (${tr(`st_${st}`)})` : ''}` +
      `${typeof base === 'number' ? ` · ${tr('ctg_baseline')} ${Math.round(base)}` : ''} · ${this.speedCmMin} cm/min${scaleNote}`;
  }
}
