// How a job stands, drawn from GET /jobs/{id} or its live event stream:
// status in words, overall percent, one line per step, the error in words.

import { api, followEvents } from './api.js';
import { h, progressBar, statusWords, stepWords, terminal } from './dom.js';

export class JobProgress {
  constructor(label) {
    this.bar = progressBar(`Processing of ${label}`);
    this.status = h('p', { class: 'job-status', 'aria-live': 'polite' });
    this.steps = h('ul', { class: 'steps', 'aria-label': `Steps of ${label}` });
    this.error = h('p', { class: 'message message-error', role: 'alert', hidden: true });
    this.el = h('div', { class: 'job-progress' }, this.status, this.bar.el, this.steps, this.error);
    this.state = '';
  }

  /** Shows a job as GET /jobs/{id} answers it. */
  showJob(job) {
    this.showState(job.status);
    if (job.progress) this.showProgress(job.progress, job.status);
    if (job.status === 'FAILED') this.showError(job.error_code, job.error_message);
  }

  showState(status) {
    this.state = status;
    this.el.dataset.status = status;
    this.status.textContent = statusWords(status);
    if (status === 'SUCCEEDED') this.bar.set(100, '100 %');
  }

  showProgress(progress, status) {
    if (status) this.showState(status);
    this.bar.set(progress.percent, `${progress.percent} %`);
    this.steps.replaceChildren(...(progress.steps || []).map((s) => {
      const pct = s.state === 'running' && s.percent ? ` ${s.percent} %` : '';
      const words = { queued: 'waiting', running: 'running', done: 'done', failed: 'failed', skipped: 'skipped' }[s.state] || s.state;
      return h('li', { class: `step step-${s.state}` },
        h('span', { class: 'step-name' }, stepWords(s.name)),
        h('span', { class: 'step-state' }, `${words}${pct}`),
        s.reason ? h('span', { class: 'step-reason' }, s.reason) : null);
    }));
  }

  showError(code, text) {
    this.error.hidden = false;
    this.error.textContent = `Failed${code ? ` (${code})` : ''}: ${text || 'no reason was given'}`;
  }

  /**
   * Follows the job live until it ends (or `signal` aborts). Resolves with
   * the final status.
   */
  async follow(jobId, { signal, onUpload } = {}) {
    let final = '';
    await followEvents(jobId, (type, data) => {
      if (type === 'state') this.showState(data.status);
      else if (type === 'progress') this.showProgress(data, data.status);
      else if (type === 'upload' && onUpload) onUpload(data);
      else if (type === 'done') {
        final = data.status;
        this.showState(data.status);
        if (data.status === 'FAILED') this.showError(data.error_code, data.error_message);
      }
    }, { signal });
    if (!final && !(signal && signal.aborted)) {
      const job = await api(`/jobs/${encodeURIComponent(jobId)}`);
      this.showJob(job);
      final = job.status;
    }
    return final;
  }
}

export { terminal };
