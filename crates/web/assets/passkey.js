// Passkeys in the workspace: the one script Waymark serves.
//
// A form that can use a passkey has a button marked data-passkey="get"
// (prove it is you) or data-passkey="create" (add one), hidden until this
// script knows the browser can use passkeys. Choosing it runs the browser's
// WebAuthn ceremony with the options the server put in the page (the
// element the button's data-options names), puts the browser's answer in
// the form's field the button's data-field names, and sends the form. The
// server checks everything; this only carries the answer. Without this
// script, or in a browser without passkeys, the codes still work.
(function () {
  "use strict";
  var PKC = window.PublicKeyCredential;
  var able = !!(PKC && navigator.credentials && PKC.parseCreationOptionsFromJSON &&
    PKC.parseRequestOptionsFromJSON && window.isSecureContext);

  function say(form, text) {
    var status = form.querySelector("[data-passkey-status]");
    if (status) {
      status.textContent = text;
      status.hidden = false;
    }
  }

  document.querySelectorAll("button[data-passkey]").forEach(function (button) {
    var form = button.form;
    var source = document.getElementById(button.getAttribute("data-options"));
    var field = form && form.elements.namedItem(button.getAttribute("data-field"));
    if (!form || !source || !field) {
      return;
    }
    if (!able) {
      var why = form.querySelector("[data-passkey-unable]");
      if (why) {
        why.hidden = false;
      }
      return;
    }
    button.hidden = false;
    button.addEventListener("click", function (event) {
      event.preventDefault();
      if (typeof form.reportValidity === "function" && !form.reportValidity()) {
        return;
      }
      var options = JSON.parse(source.getAttribute("data-options-json"));
      var create = button.getAttribute("data-passkey") === "create";
      button.disabled = true;
      say(form, create ? "Follow what your browser asks to make the passkey." : "Follow what your browser asks to use your passkey.");
      var asked = create
        ? navigator.credentials.create({ publicKey: PKC.parseCreationOptionsFromJSON(options) })
        : navigator.credentials.get({ publicKey: PKC.parseRequestOptionsFromJSON(options) });
      asked.then(function (credential) {
        field.value = JSON.stringify(credential.toJSON());
        say(form, "Checking…");
        form.submit();
      }, function (error) {
        button.disabled = false;
        var text = error && error.name === "InvalidStateError"
          ? "This device's passkey is added already."
          : create
            ? "No passkey was made: it was cancelled, or took too long."
            : "No passkey was used: it was cancelled, or took too long.";
        say(form, text + " Try again, or use another way on this page.");
      });
    });
  });
}());
