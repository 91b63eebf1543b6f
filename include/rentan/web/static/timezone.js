// The programme lives in WIB: times on these pages are WIB, and Airflow's own pages are offered
// the same timezone as their default (Airflow 3 has no server setting for it; the UI keeps the
// reader's choice under this key, and a choice already made is left alone).
(function () {
  var tz = document.body.dataset.timezone;
  try {
    if (tz && !window.localStorage.getItem("timezone")) {
      window.localStorage.setItem("timezone", JSON.stringify(tz));
    }
  } catch (e) { /* storage off: nothing to offer */ }
})();
