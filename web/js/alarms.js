// Alarm presentation after IEC 60601-1-8 (CLINICAL 5): priority colours (red HIGH, yellow
// MEDIUM, cyan LOW), flashing rates (HIGH 1.4-2.8 Hz, MEDIUM 0.4-0.8 Hz, LOW steady), the
// auditory burst patterns (HIGH 10 pulses "3+2, 3+2", MEDIUM 3 pulses, LOW 2 pulses), audio
// pause, acknowledge, and a link to the moment of the trace that raised the alert. The alert
// rules themselves are the server's; this module only shows what it is given.
//
//   const ac = new AlarmCenter(el, { onAck: async (alert) => ..., hrefFor: (alert) => '#/...' });
//   ac.update(alerts);   // [{id, priority, text, patient, patient_name, created_ms, acknowledged_ms, recording_id, start_s}]
import { h, fmtDateTime } from './dom.js';
import { t } from './i18n.js';

export const PRIORITIES = ['high', 'medium', 'low'];
const RANK = { high: 3, medium: 2, low: 1 };

/* Pulse onsets (s) and pulse length of one burst, and the pause before the burst repeats.
 * IEC 60601-1-8 table 3/4: HIGH pulses 75-200 ms, MEDIUM/LOW 125-250 ms; fundamental
 * 150-1000 Hz with at least 4 harmonics. */
export function burstPattern(priority) {
  if (priority === 'high') {
    const on = [0, 0.25, 0.5, 1.0, 1.25, 2.2, 2.45, 2.7, 3.2, 3.45];
    return { onsets_s: on, pulse_s: 0.15, repeat_s: 10, freq_hz: 523 };
  }
  if (priority === 'medium') return { onsets_s: [0, 0.3, 0.6], pulse_s: 0.2, repeat_s: 15, freq_hz: 440 };
  return { onsets_s: [0, 0.4], pulse_s: 0.2, repeat_s: 0, freq_hz: 392 }; /* LOW: once */
}

export function sortAlerts(list) {
  return list.slice().sort((a, b) => (RANK[b.priority] || 0) - (RANK[a.priority] || 0) || (b.created_ms || 0) - (a.created_ms || 0));
}

export class AlarmCenter {
  constructor(root, { onAck, hrefFor } = {}) {
    this.root = root;
    this.onAck = onAck || null;
    this.hrefFor = hrefFor || ((a) => (a.recording_id ? `#/recording/${a.recording_id}${a.start_s != null ? `?t=${Math.round(a.start_s)}` : ''}` : null));
    this.alerts = [];
    this.pausedUntil = 0;
    this.audio = null;
    this.timer = null;
    this.soundedFor = new Set();
    root.classList.add('alarm-bar');
    root.setAttribute('role', 'region');
    root.setAttribute('aria-label', t('alarms'));
  }

  /* Sound needs a user gesture once per page: the sign-in click or this call from a click. */
  enableSound() {
    const AC = window.AudioContext || window.webkitAudioContext;
    if (!AC) return false;
    if (!this.audio) this.audio = new AC();
    if (this.audio.state === 'suspended') this.audio.resume();
    return true;
  }

  pauseAudio(seconds = 120) { this.pausedUntil = Date.now() + seconds * 1000; this._render(); }

  update(alerts) {
    this.alerts = sortAlerts((alerts || []).filter((a) => !a.acknowledged_ms && !a.acknowledged));
    this._render();
    this._sound();
  }

  _sound() {
    clearTimeout(this.timer);
    const top = this.alerts[0];
    if (!top || !this.audio || Date.now() < this.pausedUntil) return;
    const p = burstPattern(top.priority);
    if (!p.repeat_s && this.soundedFor.has(top.id)) return; /* LOW sounds once */
    this.soundedFor.add(top.id);
    this._burst(p);
    if (p.repeat_s) this.timer = setTimeout(() => this._sound(), p.repeat_s * 1000);
  }

  /* One burst: pulses of a harmonic-rich tone with 20 ms rise and fall. */
  _burst(p) {
    const ctx = this.audio, t0 = ctx.currentTime + 0.05;
    const real = new Float32Array([0, 1, 0.5, 0.35, 0.25, 0.18]);
    const wave = ctx.createPeriodicWave(real, new Float32Array(real.length));
    for (const on of p.onsets_s) {
      const osc = ctx.createOscillator(), gain = ctx.createGain();
      osc.setPeriodicWave(wave);
      osc.frequency.value = p.freq_hz;
      gain.gain.setValueAtTime(0, t0 + on);
      gain.gain.linearRampToValueAtTime(0.25, t0 + on + 0.02);
      gain.gain.setValueAtTime(0.25, t0 + on + p.pulse_s - 0.02);
      gain.gain.linearRampToValueAtTime(0, t0 + on + p.pulse_s);
      osc.connect(gain).connect(ctx.destination);
      osc.start(t0 + on);
      osc.stop(t0 + on + p.pulse_s + 0.01);
    }
  }

  _render() {
    const paused = Date.now() < this.pausedUntil;
    if (!this.alerts.length) { this.root.hidden = true; this.root.replaceChildren(); return; }
    this.root.hidden = false;
    const counts = PRIORITIES.map((p) => [p, this.alerts.filter((a) => a.priority === p).length]).filter(([, n]) => n);
    this.root.replaceChildren(
      h('div.alarm-summary', counts.map(([p, n]) => h(`span.alarm.al-${p}`, t('alert_count', { n, p: t(`prio_${p}`) }))),
        h('button.btn.small', { type: 'button', onclick: () => (paused ? (this.pausedUntil = 0, this._render(), this._sound()) : this.pauseAudio()) },
          paused ? t('alarm_resume') : t('alarm_pause')),
        !this.audio || this.audio.state !== 'running' ? h('button.btn.small', { type: 'button', onclick: () => { this.enableSound(); this._render(); this._sound(); } }, t('alarm_enable')) : null),
      h('ul.alarm-list', this.alerts.slice(0, 8).map((a) => h(`li.alarm-item.pr-${a.priority}`, { dataset: { id: a.id, priority: a.priority } },
        h(`span.alarm.al-${a.priority}.flash-${a.priority}`, t(`prio_${a.priority}`)),
        h('strong', a.patient_name || a.patient || ''),
        h('span.alarm-text', a.text || a.rule || ''),
        h('span.small.muted', fmtDateTime(a.created_ms)),
        this.hrefFor(a) ? h('a.btn.small', { href: this.hrefFor(a) }, t('show_on_trace')) : null,
        this.onAck ? h('button.btn.small.ack', { type: 'button', onclick: async (e) => {
          e.target.disabled = true;
          try { await this.onAck(a); } catch (ex) { e.target.disabled = false; e.target.title = ex.message; }
        } }, t('acknowledge')) : null))),
    );
  }

  destroy() { clearTimeout(this.timer); this.root.replaceChildren(); this.root.hidden = true; }
}
