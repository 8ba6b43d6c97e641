/** @odoo-module **/
/* Recruiters' journeys through Mail > Outbox, Sent items and a candidate's Email tab. */

import { registry } from "@web/core/registry";

function openFilter(name) {
    return [
        {
            content: "Open the search options",
            trigger: ".o_searchview_dropdown_toggler",
            run: "click",
        },
        {
            content: `Switch on ${name}`,
            trigger: `.o-dropdown-item:contains("${name}")`,
            run: "click",
        },
        {
            content: "Close the search options",
            trigger: ".o_searchview_dropdown_toggler",
            run: "click",
        },
    ];
}

registry.category("web_tour.tours").add("recruitment_mail_outbox_tour", {
    url: "/odoo/outbox",
    steps: () => [
        {
            content: "The Outbox lists the failed email with its reason",
            trigger: '.o_data_row:contains("Tour failed email"):contains("Address syntax error")',
        },
        {
            content: "…and the queued email",
            trigger: '.o_data_row:contains("Tour queued email"):contains("Queued")',
        },
        ...openFilter("Failed"),
        {
            // the list as reloaded for the filter: a row ticked before would be replaced
            content: "Only failed email is listed",
            trigger:
                '.o_list_view:has(.o_data_row:contains("Tour failed email")):not(:has(.o_data_row:contains("Tour queued email")))',
        },
        {
            content: "Tick the failed email",
            trigger: '.o_data_row:contains("Tour failed email") .o_list_record_selector input',
            run: "click",
        },
        {
            content: "Resend",
            trigger: 'button[name="action_resend"]',
            run: "click",
        },
        {
            content: "It leaves the failed email",
            trigger: '.o_list_view:not(:has(.o_data_row:contains("Tour failed email")))',
        },
        {
            content: "Tick the email to delete",
            trigger: '.o_data_row:contains("Tour email to delete") .o_list_record_selector input',
            run: "click",
        },
        {
            content: "Delete",
            trigger: 'button[name="action_delete"]',
            run: "click",
        },
        {
            content: "Confirm",
            trigger: ".modal-footer .btn-primary",
            run: "click",
        },
        {
            content: "It is gone from the Outbox",
            trigger: '.o_list_view:not(:has(.o_data_row:contains("Tour email to delete")))',
        },
        {
            content: "Open Sent items",
            trigger: '.o_main_navbar a:contains("Sent items")',
            run: "click",
        },
        {
            content: "My sent email is there",
            trigger: '.o_data_row:contains("Tour sent by me")',
        },
        {
            content: "A colleague's is not",
            trigger: '.o_list_view:not(:has(.o_data_row:contains("Tour sent by a colleague")))',
        },
        ...openFilter("Show mail from everyone"),
        {
            content: "Everyone's sent email is listed",
            trigger: '.o_data_row:contains("Tour sent by a colleague")',
        },
    ],
});

registry.category("web_tour.tours").add("recruitment_mail_email_tab_tour", {
    steps: () => [
        {
            content: "Open the candidate's Emails tab",
            trigger: '.o_notebook a.nav-link:contains("Emails")',
            run: "click",
        },
        {
            content: "The email sent about the vacancy is listed",
            trigger: '.o_field_widget[name="contact_mail_ids"] .o_data_row:contains("Tour vacancy email")',
        },
        {
            content: "Open the email",
            trigger: '.o_field_widget[name="contact_mail_ids"] .o_data_row:contains("Tour vacancy email") td.o_data_cell:first',
            run: "click",
        },
        {
            content: "The full email is shown",
            trigger: '.modal .o_form_view:contains("Dear Anna, the Tour vacancy is open.")',
        },
        {
            content: "Close it",
            trigger: ".modal .btn-close",
            run: "click",
        },
        {
            content: "Click the vacancy icon",
            trigger: '.o_field_widget[name="contact_mail_ids"] .o_data_row:contains("Tour vacancy email") button[name="action_open_vacancy"]',
            run: "click",
        },
        {
            content: "Landed on the vacancy's form",
            trigger: '.o_form_view .o_field_widget[name="no_of_recruitment"]',
        },
        {
            content: "It is that vacancy",
            trigger: '.o_breadcrumb:contains("Tour Vacancy Driver")',
        },
    ],
});

/* The same journeys on a phone: the Outbox, Sent items and the Email tab show cards,
   and a form's buttons sit in the gear menu. */

function formButton(name, label) {
    return [
        {
            content: "Open the form's actions",
            trigger: ".o_control_panel button:has(.fa-cog)",
            run: "click",
        },
        {
            content: label,
            trigger: `.dropdown-menu button[name="${name}"], .o-dropdown-item:contains("${label}")`,
            run: "click",
        },
    ];
}

registry.category("web_tour.tours").add("recruitment_mail_outbox_mobile_tour", {
    url: "/odoo/outbox",
    steps: () => [
        {
            content: "The failed email's card says why",
            trigger: '.o_kanban_record:contains("Tour failed email"):contains("Address syntax error")',
            run: "click",
        },
        ...formButton("action_resend", "Resend"),
        {
            content: "It is queued again: nothing left to resend",
            trigger: '.o_form_view:not(:has(button[name="action_resend"])):has(.o_statusbar_status:contains("Queued"))',
        },
        {
            content: "Back to the Outbox",
            trigger: ".o_back_button, .o_breadcrumb a",
            run: "click",
        },
        {
            content: "Open the email to delete",
            trigger: '.o_kanban_record:contains("Tour email to delete")',
            run: "click",
        },
        ...formButton("action_delete", "Delete"),
        {
            content: "Confirm",
            trigger: ".modal-footer .btn-primary",
            run: "click",
        },
        {
            content: "Back in the Outbox, without it",
            trigger: '.o_kanban_view:has(.o_kanban_record:contains("Tour failed email")):not(:has(.o_kanban_record:contains("Tour email to delete")))',
        },
    ],
});

registry.category("web_tour.tours").add("recruitment_mail_sent_items_mobile_tour", {
    url: "/odoo/sent-items",
    steps: () => [
        {
            content: "My sent email is there",
            trigger: '.o_kanban_record:contains("Tour sent by me")',
        },
        {
            content: "A colleague's is not",
            trigger: '.o_kanban_view:not(:has(.o_kanban_record:contains("Tour sent by a colleague")))',
        },
        {
            content: "Open the search",
            trigger: ".o_control_panel button:has(.fa-search), .o_searchview_dropdown_toggler",
            run: "click",
        },
        {
            content: "Open the search options",
            trigger: ".o_searchview_dropdown_toggler",
            run: "click",
        },
        {
            content: "Switch on Show mail from everyone",
            trigger: '.o-dropdown-item:contains("Show mail from everyone")',
            run: "click",
        },
        {
            content: "Everyone's sent email is listed",
            trigger: '.o_kanban_record:contains("Tour sent by a colleague")',
        },
    ],
});

registry.category("web_tour.tours").add("recruitment_mail_email_tab_mobile_tour", {
    steps: () => [
        {
            content: "Open the candidate's Emails tab",
            trigger: '.o_notebook a.nav-link:contains("Emails")',
            run: "click",
        },
        {
            content: "Open the email sent about the vacancy",
            trigger: '.o_field_widget[name="contact_mail_ids"] .o_kanban_record:contains("Tour vacancy email")',
            run: "click",
        },
        {
            content: "The full email is shown",
            trigger: '.modal .o_form_view:contains("Dear Anna, the Tour vacancy is open.")',
        },
        {
            content: "Close it",
            trigger: ".modal .btn-close, .modal .o_form_button_cancel",
            run: "click",
        },
        {
            content: "Tap the vacancy icon",
            trigger: '.o_field_widget[name="contact_mail_ids"] .o_kanban_record:contains("Tour vacancy email") a[name="action_open_vacancy"]',
            run: "click",
        },
        {
            content: "Landed on the vacancy's form",
            trigger: '.o_form_view .o_field_widget[name="no_of_recruitment"]',
        },
    ],
});
