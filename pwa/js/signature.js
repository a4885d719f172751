// A signature pad on a canvas; exports a PNG. Loaded only when a signature is needed.
import { sha256Hex } from './photos.js';

export function signaturePad(canvas) {
  const ctx = canvas.getContext('2d');
  let drawing = false;
  let strokes = 0;
  const ratio = window.devicePixelRatio || 1;
  const rect = () => canvas.getBoundingClientRect();
  function size() {
    const r = rect();
    canvas.width = Math.round(r.width * ratio);
    canvas.height = Math.round(r.height * ratio);
    ctx.scale(ratio, ratio);
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, r.width, r.height);
    ctx.lineWidth = 2.5; ctx.lineCap = 'round'; ctx.strokeStyle = '#000';
    strokes = 0;
  }
  const point = (e) => { const r = rect(); return [e.clientX - r.left, e.clientY - r.top]; };
  canvas.addEventListener('pointerdown', (e) => {
    drawing = true; canvas.setPointerCapture && canvas.setPointerCapture(e.pointerId);
    const [x, y] = point(e); ctx.beginPath(); ctx.moveTo(x, y);
  });
  canvas.addEventListener('pointermove', (e) => {
    if (!drawing) return;
    const [x, y] = point(e); ctx.lineTo(x, y); ctx.stroke(); strokes += 1;
  });
  const end = () => { drawing = false; };
  canvas.addEventListener('pointerup', end);
  canvas.addEventListener('pointercancel', end);
  canvas.style.touchAction = 'none';
  // Size once the canvas is laid out (it may be built before it is in the document).
  const whenShown = () => (canvas.isConnected && rect().width ? size() : requestAnimationFrame(whenShown));
  whenShown();
  return {
    isEmpty: () => strokes < 2,
    clear: size,
    async export() {
      const blob = await new Promise((res) => canvas.toBlob(res, 'image/png'));
      return { hash: await sha256Hex(blob), blob, type: 'image/png' };
    },
  };
}
