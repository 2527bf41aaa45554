// The driver's phone reads a container label's QR code with the camera where the browser has the
// BarcodeDetector API; elsewhere (and always) the code can be typed. Fills the form's label field.
(function () {
  "use strict";
  if (!("BarcodeDetector" in window) || !navigator.mediaDevices) return;
  document.querySelectorAll("form.scan-label").forEach(function (form) {
    var button = form.querySelector(".scan-camera");
    var video = form.querySelector(".scan-video");
    var field = form.querySelector("[data-scan]");
    if (!button || !video || !field) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      var detector = new window.BarcodeDetector({ formats: ["qr_code"] });
      navigator.mediaDevices
        .getUserMedia({ video: { facingMode: "environment" } })
        .then(function (stream) {
          video.srcObject = stream;
          video.hidden = false;
          return video.play().then(function () {
            var tick = function () {
              detector
                .detect(video)
                .then(function (codes) {
                  if (codes.length) {
                    field.value = codes[0].rawValue;
                    stream.getTracks().forEach(function (t) { t.stop(); });
                    video.hidden = true;
                    var weight = form.querySelector('[name="weight_kg"]');
                    if (weight) weight.focus();
                  } else {
                    window.requestAnimationFrame(tick);
                  }
                })
                .catch(function () { window.requestAnimationFrame(tick); });
            };
            tick();
          });
        })
        .catch(function () { button.hidden = true; });
    });
  });
})();
