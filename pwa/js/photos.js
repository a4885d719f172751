// Camera photos: downscaled on the phone to a 2048 px long edge, re-encoded as JPEG, hashed.
export const MAX_EDGE = 2048;

export async function sha256Hex(blob) {
  const buf = await crypto.subtle.digest('SHA-256', await blob.arrayBuffer());
  return [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

export async function downscale(file, maxEdge = MAX_EDGE, quality = 0.85) {
  const bitmap = await createImageBitmap(file, { imageOrientation: 'from-image' });
  const scale = Math.min(1, maxEdge / Math.max(bitmap.width, bitmap.height));
  const w = Math.max(1, Math.round(bitmap.width * scale));
  const h = Math.max(1, Math.round(bitmap.height * scale));
  let blob;
  if (typeof OffscreenCanvas !== 'undefined') {
    const canvas = new OffscreenCanvas(w, h);
    canvas.getContext('2d').drawImage(bitmap, 0, 0, w, h);
    blob = await canvas.convertToBlob({ type: 'image/jpeg', quality });
  } else {
    const canvas = document.createElement('canvas');
    canvas.width = w; canvas.height = h;
    canvas.getContext('2d').drawImage(bitmap, 0, 0, w, h);
    blob = await new Promise((res) => canvas.toBlob(res, 'image/jpeg', quality));
  }
  bitmap.close && bitmap.close();
  return { blob, width: w, height: h };
}

/** A picked file → {hash, blob, type} ready for store.commit(). */
export async function preparePhoto(file) {
  const { blob } = await downscale(file);
  return { hash: await sha256Hex(blob), blob, type: 'image/jpeg' };
}
