/* Cognate hosted UI — progressive enhancement only.
   Everything works without this file; it adds live password-rule
   feedback and a client-side "passwords match" hint. */
(function () {
  'use strict';

  var VALID = 'passwordCheck-valid-customizable';
  var INVALID = 'passwordCheck-notValid-customizable';
  // Cognito's set of special characters (plus space).
  var SYMBOL = /[\^$*.\[\]{}()?"!@#%&\/\\,><':;|_~`=+\- ]/;

  function length(str) {
    // Count code points, not UTF-16 units.
    var n = 0;
    for (var i = 0; i < str.length; i++) {
      var c = str.charCodeAt(i);
      if (c < 0xDC00 || c > 0xDFFF) { n++; }
    }
    return n;
  }

  var CHECKS = {
    length: function (v, li) {
      var min = parseInt(li.getAttribute('data-min'), 10) || 0;
      return length(v) >= min;
    },
    lowercase: function (v) { return /[a-z]/.test(v); },
    uppercase: function (v) { return /[A-Z]/.test(v); },
    number: function (v) { return /[0-9]/.test(v); },
    symbol: function (v) { return SYMBOL.test(v); }
  };

  function setState(el, ok) {
    if (!el.classList) { return; }
    el.classList.toggle(VALID, ok);
    el.classList.toggle(INVALID, !ok);
  }

  function findPassword(list) {
    var form = list.closest ? list.closest('form') : null;
    var scope = form || document;
    return scope.querySelector('input[name="password"]');
  }

  function initRules(list) {
    var input = findPassword(list);
    if (!input) { return; }
    var items = list.querySelectorAll('li[data-rule]');
    function update() {
      var v = input.value || '';
      for (var i = 0; i < items.length; i++) {
        var check = CHECKS[items[i].getAttribute('data-rule')];
        if (check) { setState(items[i], check(v, items[i])); }
      }
    }
    input.addEventListener('input', update);
    input.addEventListener('change', update);
    update(); // browser autofill / back-navigation may prefill the field
  }

  function initConfirm(confirm) {
    var form = confirm.form;
    var input = form && form.querySelector('input[name="password"]');
    if (!input || !confirm.setCustomValidity) { return; }
    var msg = confirm.getAttribute('data-mismatch-message') || 'Passwords do not match';
    function update() {
      var mismatch = confirm.value !== '' && confirm.value !== input.value;
      confirm.setCustomValidity(mismatch ? msg : '');
    }
    input.addEventListener('input', update);
    confirm.addEventListener('input', update);
  }

  function init() {
    if (!document.querySelectorAll) { return; }
    var lists = document.querySelectorAll('[data-password-rules]');
    for (var i = 0; i < lists.length; i++) { initRules(lists[i]); }
    var confirms = document.querySelectorAll('input[name="password_confirm"]');
    for (var j = 0; j < confirms.length; j++) { initConfirm(confirms[j]); }
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init);
  } else {
    init();
  }
})();
