// Under the crontab field, say in words when the chosen schedule runs. django-celery-beat does this
// with an inline script that the Content-Security-Policy blocks; this file does it instead.
"use strict";
(function () {
    const $ = django.jQuery;
    $(function () {
        const data = document.getElementById("readable-crontabs");
        if (!data) {
            return;
        }
        const readable = JSON.parse(data.textContent);
        const help = $(".field-crontab .help");
        const original = help.text();
        $(".field-crontab_translation").hide();
        $(".field-crontab").change(function () {
            const words = readable[$("#id_crontab").val()];
            help.text(words ? original + " Translation: " + words : original);
        });
    });
})();
