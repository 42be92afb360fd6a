// LogTrace dashboard: progressive enhancement only. Every page works without this file.
// Copy buttons: <button data-copy="input-id" hidden> is shown and copies the input's value.
'use strict';
/* global document, navigator */
document.addEventListener('DOMContentLoaded', () => {
  for (const button of document.querySelectorAll('button[data-copy]')) {
    const input = document.getElementById(button.dataset.copy);
    const status = document.querySelector(`[data-copy-status="${button.dataset.copy}"]`);
    if (!input) continue;
    button.hidden = false;
    button.addEventListener('click', async () => {
      try {
        if (!navigator.clipboard) throw new Error('no clipboard');
        await navigator.clipboard.writeText(input.value);
        if (status) status.textContent = button.dataset.copied || '';
      } catch {
        input.focus();
        input.select();
        if (status) status.textContent = button.dataset.copyFailed || '';
      }
    });
  }
  // The read-only key is selected as a whole when focused, so Ctrl+C copies it at once.
  for (const input of document.querySelectorAll('input[readonly]')) {
    input.addEventListener('focus', () => input.select());
  }
});
