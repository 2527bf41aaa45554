"""Who may see what of Alice's loop (ADR 0002), shared by the API and page tenancy suites.

Alice's workshop is in 崇川区 (320602); her collector's truck and warehouse are in 通州区 (320612).
"""

ALL = {"bin", "request", "manifest", "trip", "production", "storage_in", "events"}

# What each persona may see of Alice's loop once her manifest is received.
SEES = {
    "alice": {"bin", "request", "manifest", "production", "events"},
    "dispatcher": ALL,  # her collector: its client's rows and its own truck and warehouse
    "regulator": {"bin", "request", "manifest", "production", "events"},  # 320602: her district
    "regulator_city": ALL,  # 320600 sees every 3206xx division
    "regulator_other": {"trip", "storage_in"},  # 320612: only the collector's truck and warehouse there
    "bob": set(),  # another producer
    "rival_dispatcher": set(),  # another collector
    "facility_receiver": set(),  # nothing was sent to the facility
}
PERSONAS = list(SEES)
