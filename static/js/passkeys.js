/* Cognate hosted UI: the WebAuthn calls of the passkey pages, and nothing else.
   The server hands out the options (JSON, bound to the page's login transaction) and
   checks the answer, which goes back as an ordinary form post with the page's CSRF token.
   Without this file (or without WebAuthn) the passkey buttons stay hidden and every other
   form works as before.
   https://www.w3.org/TR/webauthn-3/#sctn-parseCreationOptionsFromJSON */
(function () {
  'use strict';

  var PKC = window.PublicKeyCredential;
  if (!PKC || !navigator.credentials || !window.fetch || !window.FormData) { return; }

  function bytes(value) {  // base64url → ArrayBuffer (browsers without parse*FromJSON)
    var b64 = value.replace(/-/g, '+').replace(/_/g, '/');
    var raw = atob(b64 + '===='.slice(0, (4 - b64.length % 4) % 4));
    var out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) { out[i] = raw.charCodeAt(i); }
    return out.buffer;
  }

  function text(buffer) {  // ArrayBuffer → base64url
    var view = new Uint8Array(buffer), raw = '';
    for (var i = 0; i < view.length; i++) { raw += String.fromCharCode(view[i]); }
    return btoa(raw).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function descriptors(list) {
    return (list || []).map(function (c) { return {type: c.type, id: bytes(c.id), transports: c.transports}; });
  }

  function creationOptions(json) {
    if (PKC.parseCreationOptionsFromJSON) { return PKC.parseCreationOptionsFromJSON(json); }
    var o = Object.assign({}, json, {challenge: bytes(json.challenge), excludeCredentials: descriptors(json.excludeCredentials)});
    o.user = Object.assign({}, json.user, {id: bytes(json.user.id)});
    return o;
  }

  function requestOptions(json) {
    if (PKC.parseRequestOptionsFromJSON) { return PKC.parseRequestOptionsFromJSON(json); }
    return Object.assign({}, json, {challenge: bytes(json.challenge), allowCredentials: descriptors(json.allowCredentials)});
  }

  function asJSON(credential) {
    if (credential.toJSON) { return credential.toJSON(); }
    var r = credential.response, out = {id: credential.id, rawId: text(credential.rawId), type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
      clientExtensionResults: credential.getClientExtensionResults(), response: {clientDataJSON: text(r.clientDataJSON)}};
    if (r.attestationObject) {
      out.response.attestationObject = text(r.attestationObject);
      out.response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      out.response.authenticatorData = text(r.authenticatorData);
      out.response.signature = text(r.signature);
      if (r.userHandle) { out.response.userHandle = text(r.userHandle); }
    }
    return out;
  }

  /* POST the form's CSRF token and transaction to url; the JSON options, or an Error whose
     message is the server's (or none). A {"location"} answer sends the page there. */
  function fetchOptions(form, url) {
    var body = new URLSearchParams();
    body.append('csrf_token', form.elements.csrf_token.value);
    body.append('txn', form.elements.txn.value);
    return fetch(url, {method: 'POST', body: body, credentials: 'same-origin', headers: {Accept: 'application/json'}})
      .then(function (response) {
        var json = (response.headers.get('Content-Type') || '').indexOf('application/json') === 0;
        return (json ? response.json() : Promise.resolve({})).then(function (answer) {
          if (answer.location) { window.location.assign(answer.location); throw new Error(''); }
          if (!response.ok) { throw new Error(answer.message || ''); }
          return answer;
        });
      });
  }

  function submit(form, credential) {
    form.elements.credential.value = JSON.stringify(asJSON(credential));
    HTMLFormElement.prototype.submit.call(form);
  }

  function say(form, message) {
    var status = form.querySelector('[data-passkey-status]');
    if (status) { status.textContent = message; }
  }

  function initSignIn(form) {
    var url = form.getAttribute('data-options-url');
    var failed = form.getAttribute('data-failed-message');
    var pending = null;  // the conditional request's AbortController

    function get(mediation) {
      if (pending) { pending.abort(); }
      var controller = pending = new AbortController();
      return fetchOptions(form, url).then(function (json) {
        var request = {publicKey: requestOptions(json), signal: controller.signal};
        if (mediation) { request.mediation = mediation; }
        return navigator.credentials.get(request);
      }).then(function (credential) {
        if (credential) { submit(form, credential); }
      }, function (error) {
        if (controller.signal.aborted) { return; }  // replaced by the button's request
        if (!mediation) { say(form, error.message && error.name === 'Error' ? error.message : failed); }
      });
    }

    var button = form.querySelector('[data-passkey-button]');
    button.hidden = false;
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      say(form, '');
      get(null);
    });
    if (PKC.isConditionalMediationAvailable) {  // the passkeys in the username field's autofill
      PKC.isConditionalMediationAvailable().then(function (yes) { if (yes) { get('conditional'); } });
    }
  }

  function initRegister(form) {
    var url = form.getAttribute('data-options-url');
    var failed = form.getAttribute('data-failed-message');
    var unsupported = document.querySelectorAll('[data-passkey-unsupported]');
    for (var i = 0; i < unsupported.length; i++) { unsupported[i].hidden = true; }
    var controls = form.querySelectorAll('[data-passkey-control]');
    for (var j = 0; j < controls.length; j++) { controls[j].hidden = false; }
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      say(form, '');
      fetchOptions(form, url).then(function (json) {
        return navigator.credentials.create({publicKey: creationOptions(json)});
      }).then(function (credential) {
        if (credential) { submit(form, credential); }
      }, function (error) {
        say(form, error.message && error.name === 'Error' ? error.message : failed);
      });
    });
  }

  function init() {
    var signIn = document.querySelectorAll('form[data-passkey-signin]');
    for (var i = 0; i < signIn.length; i++) { initSignIn(signIn[i]); }
    var register = document.querySelectorAll('form[data-passkey-register]');
    for (var j = 0; j < register.length; j++) { initRegister(register[j]); }
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init);
  } else {
    init();
  }
})();
