from django.contrib.auth import views as auth_views
from django.urls import path

from greenisle.web import views

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
    path("bins/", views.bins, name="bins"),
    path("bins.geojson", views.bins_geojson, name="bins_geojson"),
    path("bins/<uuid:bin_id>/", views.bin_detail, name="bin"),
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
