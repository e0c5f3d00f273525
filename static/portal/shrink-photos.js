// Shrink phone photos in the browser before upload, so a 12-megapixel photo does not cost
// several MB over a rural 3G link. Progressive enhancement: when the browser cannot decode
// a format (HEIC in most browsers) or lacks an API, the original file is sent and the
// server converts it. Orientation is applied here (imageOrientation: "from-image") because
// re-encoding drops the EXIF tag that carried it.
(function () {
  "use strict";
  var form = document.querySelector("form[data-shrink-photos]");
  if (!form || !window.createImageBitmap || !window.DataTransfer || !HTMLCanvasElement.prototype.toBlob) {
    return;
  }
  var maxSide = parseInt(form.dataset.maxSide, 10) || 2048;
  var status = form.querySelector(".upload-progress");

  function say(text) { if (status) { status.textContent = text; } }

  function shrink(file) {
    if (!/^image\/(jpeg|png|webp)$/.test(file.type)) { return Promise.resolve(file); }
    return createImageBitmap(file, { imageOrientation: "from-image" }).then(function (bitmap) {
      var scale = Math.min(1, maxSide / Math.max(bitmap.width, bitmap.height));
      if (scale === 1 && file.size < 1500000) { return file; }
      var canvas = document.createElement("canvas");
      canvas.width = Math.round(bitmap.width * scale);
      canvas.height = Math.round(bitmap.height * scale);
      var context = canvas.getContext("2d");
      context.fillStyle = "#fff";  // transparent PNG areas become white, as on the server
      context.fillRect(0, 0, canvas.width, canvas.height);
      context.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      return new Promise(function (resolve) {
        canvas.toBlob(function (blob) {
          if (!blob || blob.size >= file.size) { resolve(file); return; }
          resolve(new File([blob], file.name.replace(/\.[^.]+$/, "") + ".jpg", { type: "image/jpeg" }));
        }, "image/jpeg", 0.85);
      });
    }).catch(function () { return file; });
  }

  form.addEventListener("submit", function (event) {
    if (form.dataset.shrunk === "yes") { return; }
    event.preventDefault();
    var inputs = Array.prototype.slice.call(form.querySelectorAll("input[type=file]"));
    var total = inputs.reduce(function (n, input) { return n + input.files.length; }, 0);
    var done = 0;
    var jobs = inputs.map(function (input) {
      var files = Array.prototype.slice.call(input.files);
      return files.reduce(function (chain, file) {
        return chain.then(function (list) {
          done += 1;
          say(form.dataset.msgShrinking.replace("%(n)s", done).replace("%(total)s", total));
          return shrink(file).then(function (small) { list.push(small); return list; });
        });
      }, Promise.resolve([])).then(function (list) {
        var transfer = new DataTransfer();
        list.forEach(function (file) { transfer.items.add(file); });
        input.files = transfer.files;
      });
    });
    Promise.all(jobs).then(function () {
      say(form.dataset.msgSending);
      form.dataset.shrunk = "yes";
      form.submit();
    });
  });
})();
