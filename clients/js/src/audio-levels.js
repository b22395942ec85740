// Audio level observers (daily-js startLocalAudioLevelObserver /
// startRemoteParticipantsAudioLevelObserver): the peak of a track, 0..1, sampled with a
// WebAudio AnalyserNode every `interval` ms. Headless Chromium reports inbound audio
// levels as 0 in getStats, so the level is measured from the samples themselves.

class Meter {
  constructor(timers, getTrack, interval, report) {
    this.level = 0;
    this._timers = timers;
    this._getTrack = getTrack;
    this._report = report;
    this._track = null;
    this._ctx = null;
    this._source = null;
    this._analyser = null;
    this._buffer = null;
    this._timer = timers.setInterval(() => this._tick(), Math.max(20, interval));
  }

  _tick() {
    const track = this._getTrack();
    if (track !== this._track) this._attach(track);
    let peak = 0;
    if (this._analyser) {
      this._analyser.getFloatTimeDomainData(this._buffer);
      for (const v of this._buffer) peak = Math.max(peak, Math.abs(v));
    }
    this.level = Math.min(1, peak);
    this._report(this.level);
  }

  _attach(track) {
    this._detach();
    this._track = track;
    const Ctx = globalThis.AudioContext || globalThis.webkitAudioContext;
    if (!track || !Ctx) return;
    this._ctx = new Ctx();
    this._ctx.resume().catch(() => {});
    this._analyser = this._ctx.createAnalyser();
    this._analyser.fftSize = 1024;
    this._buffer = new Float32Array(this._analyser.fftSize);
    this._source = this._ctx.createMediaStreamSource(new MediaStream([track]));
    this._source.connect(this._analyser);
  }

  _detach() {
    if (this._source) this._source.disconnect();
    if (this._ctx) this._ctx.close().catch(() => {});
    this._ctx = this._source = this._analyser = null;
  }

  stop() {
    this._timers.clearInterval(this._timer);
    this._detach();
    this.level = 0;
  }
}

export class AudioLevels {
  constructor(timers) {
    this._timers = timers;
    this._local = null;
    this._remote = null;
  }
  get local() {
    return this._local ? this._local.level : 0;
  }
  get remote() {
    return this._remote ? this._remote.level : 0;
  }
  startLocal(getTrack, interval, report) {
    this.stopLocal();
    this._local = new Meter(this._timers, getTrack, interval, report);
  }
  startRemote(getTrack, interval, report) {
    this.stopRemote();
    this._remote = new Meter(this._timers, getTrack, interval, report);
  }
  stopLocal() {
    if (this._local) this._local.stop();
    this._local = null;
  }
  stopRemote() {
    if (this._remote) this._remote.stop();
    this._remote = null;
  }
  stopAll() {
    this.stopLocal();
    this.stopRemote();
  }
}
