from django.contrib.auth import views as auth_views
from django.urls import path

import greenisle.web.views_declarations as views_declarations
import greenisle.web.views_findings as views_findings
import greenisle.web.views_management_plans as views_management_plans
import greenisle.web.views_obligations as views_obligations
import greenisle.web.views_reports as views_reports
import greenisle.web.views_statistics as views_statistics
import greenisle.web.views_supervision_map as views_supervision_map
from greenisle.web import views, views_bins, views_labels, views_manifests, views_plans, views_tracking

app_name = "web"
urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("switch/", views.switch_membership, name="switch"),
    path("", views.home, name="home"),
    path("producer/", views.producer_home, name="producer"),
    path("command-centre/", views.command_centre, name="command_centre"),
    path("command-centre/assign/", views.assign, name="assign"),
    path("plans/", views_plans.plans, name="plans"),
    path("plans/<uuid:plan_id>/", views_plans.plan_detail, name="plan"),
    path("plans/<uuid:plan_id>.geojson", views_plans.plan_geojson, name="plan_geojson"),
    path("plans/<uuid:plan_id>/move/", views_plans.plan_move, name="plan_move"),
    path("plans/<uuid:plan_id>/reoptimise/", views_plans.plan_reoptimise, name="plan_reoptimise"),
    path("plans/<uuid:plan_id>/publish/", views_plans.plan_publish, name="plan_publish"),
    path("plans/<uuid:plan_id>/urgent/", views_plans.plan_urgent, name="plan_urgent"),
    path("driver/", views.driver_home, name="driver"),
    path("driver/requests/<uuid:request_id>/containers/", views.add_container, name="add_container"),
    path("regulator/", views.regulator_home, name="regulator"),
    path("regulator/overview.json", views.overview_json, name="overview_json"),
    path("facility/", views.facility_home, name="facility"),
    path("bins/", views_bins.bins, name="bins"),
    path("fleet.geojson", views_tracking.fleet_geojson, name="fleet_geojson"),
    path("bins/new/", views_bins.bin_new, name="bin_new"),
    path("bins/import/", views_bins.bin_import, name="bin_import"),
    path("bins/import/template.csv", views_bins.bin_import_template, name="bin_import_template"),
    path("bins/import/sites.csv", views_bins.bin_import_sites, name="bin_import_sites"),
    path("bins/<uuid:bin_id>/", views_bins.bin_detail, name="bin"),
    path("bins/<uuid:bin_id>/edit/", views_bins.bin_edit, name="bin_edit"),
    path("bins/<uuid:bin_id>/enabled/", views_bins.bin_enabled, name="bin_enabled"),
    path("bins/<uuid:bin_id>/credentials/", views_bins.bin_credentials, name="bin_credentials"),
    path("requests/", views.requests_list, name="requests"),
    path("requests/<uuid:request_id>/", views.request_detail, name="request"),
    path("trips/<uuid:trip_id>/", views.trip_detail, name="trip"),
    path("trips/<uuid:trip_id>.geojson", views_plans.trip_geojson_view, name="trip_geojson"),
    path("manifests/", views.manifests_list, name="manifests"),
    path("manifests/paper/", views_manifests.paper, name="manifest_paper"),
    path("manifests/onward/", views_manifests.onward, name="manifest_onward"),
    path("notifications/", views_manifests.notifications, name="notifications"),
    path("labels/", views_labels.labels, name="labels"),
    path("labels/sheet.pdf", views_labels.labels_sheet, name="labels_sheet"),
    path("c/<str:code>/", views_labels.container_page, name="container"),
    path("c/<str:code>/label.pdf", views_labels.label_pdf, name="label_pdf"),
    path("driver/requests/<uuid:request_id>/load/", views_labels.load, name="load"),
    path("manifests/<uuid:manifest_id>/document.pdf", views_labels.manifest_document, name="manifest_pdf"),
    path("manifests/<uuid:manifest_id>/", views_manifests.manifest_detail, name="manifest"),
    path("manifests/<uuid:manifest_id>/deliver/", views_manifests.deliver, name="deliver"),
    path("manifests/<uuid:manifest_id>/treatment/", views_manifests.treatment, name="treatment"),
    path("manifests/<uuid:manifest_id>/cancel/", views_manifests.cancel, name="cancel"),
    path("manifests/<uuid:manifest_id>/corrections/", views_manifests.correction_new, name="correction_new"),
    path(
        "manifests/<uuid:manifest_id>/versions/<int:version>/",
        views_manifests.version,
        name="manifest_version",
    ),
    path(
        "corrections/<uuid:correction_id>/", views_manifests.correction_decision, name="correction_decision"
    ),
    path("manifests/<uuid:manifest_id>/sign/", views.sign, name="sign"),
    path("manifests/<uuid:manifest_id>/depart/", views.depart, name="depart"),
    path("manifests/<uuid:manifest_id>/receive/", views_manifests.receive, name="receive"),
    path("ledger/", views.ledger, name="ledger"),
    path("audit/", views.audit, name="audit"),
    path("obligations/", views_obligations.obligations, name="obligations"),
    path("management-plans/new/", views_management_plans.plan_new, name="management_plan_new"),
    path("management-plans/<uuid:plan_id>/", views_management_plans.management_plan, name="management_plan"),
    path(
        "management-plans/<uuid:plan_id>/review/",
        views_management_plans.management_plan_review,
        name="management_plan_review",
    ),
    path(
        "management-plans/<uuid:plan_id>/amend/",
        views_management_plans.management_plan_amend,
        name="management_plan_amend",
    ),
    path(
        "management-plans/<uuid:plan_id>/receipt.pdf",
        views_management_plans.management_plan_receipt,
        name="management_plan_receipt",
    ),
    path("declarations/prepare/", views_declarations.declaration_prepare_view, name="declaration_prepare"),
    path("declarations/<uuid:declaration_id>/", views_declarations.declaration_detail, name="declaration"),
    path(
        "declarations/<uuid:declaration_id>/submit/",
        views_declarations.declaration_submit_view,
        name="declaration_submit",
    ),
    path(
        "declarations/<uuid:declaration_id>.xlsx",
        views_declarations.declaration_xlsx_view,
        name="declaration_xlsx",
    ),
    path(
        "declarations/<uuid:declaration_id>.pdf",
        views_declarations.declaration_pdf_view,
        name="declaration_pdf",
    ),
    path("clients/filing/", views_declarations.client_filing, name="client_filing"),
    path(
        "clients/filing/<uuid:bulk_id>/progress/",
        views_declarations.client_filing_progress,
        name="client_filing_progress",
    ),
    path("regulator/obligations/", views_obligations.regulator_obligations, name="regulator_obligations"),
    # --- supervision: findings ---
    path("findings/", views_findings.findings, name="findings"),
    path("findings/<uuid:finding_id>/", views_findings.finding_detail, name="finding"),
    path("findings/<uuid:finding_id>/assign/", views_findings.finding_assign, name="finding_assign"),
    path("findings/<uuid:finding_id>/rectify/", views_findings.finding_rectify, name="finding_rectify"),
    path("findings/<uuid:finding_id>/verify/", views_findings.finding_verify, name="finding_verify"),
    path("findings/<uuid:finding_id>/close/", views_findings.finding_close, name="finding_close"),
    path("findings/<uuid:finding_id>/dismiss/", views_findings.finding_dismiss, name="finding_dismiss"),
    # --- supervision: map ---
    path("regulator/map/", views_supervision_map.supervision_map, name="supervision_map"),
    # --- supervision: statistics ---
    path("regulator/statistics/", views_statistics.statistics_page, name="statistics"),
    path("regulator/statistics.xlsx", views_statistics.statistics_xlsx_view, name="statistics_xlsx"),
    path("regulator/reports/monthly/", views_reports.monthly_report_page, name="monthly_report"),
    path("regulator/reports/monthly.pdf", views_reports.monthly_report_pdf_view, name="monthly_report_pdf"),
    path(
        "regulator/reports/monthly.xlsx", views_reports.monthly_report_xlsx_view, name="monthly_report_xlsx"
    ),
    # --- assessment ---
    # The assessment pages' own list (web/views_assessment.py ``urlpatterns``), in this namespace.
    path("assessment/", ("greenisle.web.views_assessment", None, None)),
]
