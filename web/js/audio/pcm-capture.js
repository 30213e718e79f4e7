// AudioWorklet: the microphone at the context's rate → mono PCM16 at the rate the voice session
// announced, in 20 ms frames posted to the page (with each frame's peak level, for the meter).
// Downsampling averages the input samples of each output sample: a box filter that keeps most
// aliasing out of speech without a costlier FIR.
class PcmCapture extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const rate = (options.processorOptions && options.processorOptions.rate) || 16000;
    this.step = sampleRate / rate; // input samples per output sample (≥ 1 when downsampling)
    this.size = Math.round(rate / 50);
    this.frame = new Int16Array(this.size);
    this.n = 0;
    this.acc = 0;
    this.cnt = 0;
    this.pos = 0;
    this.peak = 0;
    this.last = 0;
  }

  process(inputs) {
    const input = inputs[0];
    const ch = input && input[0];
    if (!ch) return true;
    for (let i = 0; i < ch.length; i++) {
      this.acc += ch[i];
      this.cnt++;
      this.pos += 1;
      while (this.pos >= this.step) {
        this.pos -= this.step;
        // Upsampling (a context slower than the session) repeats the last value.
        const x = this.cnt ? Math.max(-1, Math.min(1, this.acc / this.cnt)) : this.last;
        this.last = x;
        this.acc = 0;
        this.cnt = 0;
        const a = Math.abs(x);
        if (a > this.peak) this.peak = a;
        this.frame[this.n++] = x < 0 ? x * 0x8000 : x * 0x7fff;
        if (this.n === this.size) {
          // The buffer is handed over (transferred): a new one takes its place.
          this.port.postMessage({ pcm: this.frame.buffer, level: this.peak }, [this.frame.buffer]);
          this.frame = new Int16Array(this.size);
          this.n = 0;
          this.peak = 0;
        }
      }
    }
    return true;
  }
}

registerProcessor('pcm-capture', PcmCapture);
