from django.contrib.auth import views as auth_views
from django.urls import path

from greenisle.web import views, views_bins

app_name = "web"
urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("switch/", views.switch_membership, name="switch"),
    path("", views.home, name="home"),
    path("producer/", views.producer_home, name="producer"),
    path("command-centre/", views.command_centre, name="command_centre"),
    path("command-centre/assign/", views.assign, name="assign"),
    path("driver/", views.driver_home, name="driver"),
    path("driver/requests/<uuid:request_id>/containers/", views.add_container, name="add_container"),
    path("regulator/", views.regulator_home, name="regulator"),
    path("regulator/overview.json", views.overview_json, name="overview_json"),
    path("facility/", views.facility_home, name="facility"),
    path("bins/", views_bins.bins, name="bins"),
    path("bins.geojson", views.bins_geojson, name="bins_geojson"),
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
    path("manifests/", views.manifests_list, name="manifests"),
    path("manifests/<uuid:manifest_id>/", views.manifest_detail, name="manifest"),
    path("manifests/<uuid:manifest_id>/sign/", views.sign, name="sign"),
    path("manifests/<uuid:manifest_id>/depart/", views.depart, name="depart"),
    path("manifests/<uuid:manifest_id>/receive/", views.receive, name="receive"),
    path("ledger/", views.ledger, name="ledger"),
    path("audit/", views.audit, name="audit"),
]
