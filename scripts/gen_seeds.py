#!/usr/bin/env python3
"""Generate the GTM analytics project's seed CSVs: a synthetic B2B SaaS company.

Usage:
    python3 scripts/gen_seeds.py                  # full data set -> seeds/
    python3 scripts/gen_seeds.py --tiny --out tests/fixtures/gtm_tiny/seeds
    python3 scripts/gen_seeds.py --scale 10 --out /tmp/bench_seeds   # benchmarks

Python 3.11 standard library only. The output is a pure function of the flags:
one `random.Random(SEED)` drives everything, ids are assigned after sorting, and
nothing depends on hash randomization, the clock or the machine.

The company
-----------
A hybrid product-led / sales-led analytics SaaS. Full data: 2023-01-01 .. 2025-06-30
(30 months), ~1,000 accounts x scale. About 15% of the accounts are an existing customer
base that signed up in 2021-2022: their subscriptions (and users) start before the data
window; everything else (leads, touches, campaigns, opportunities, invoices, events,
tickets ...) starts on the window's first day. `--tiny`: 20 accounts, 2024-10-01 ..
2025-03-31, with churn/reactivation/messy-case rates boosted so every case appears.

Plausible ranges the full data lands in (the script prints the actual values):
  * monthly logo churn 1-3% (hazard SMB 2.4%, Mid-Market 1.1%, Enterprise 0.5% a month,
    scaled by account health); ~20% of churned accounts reactivate after a 45-270 day gap
  * opportunity win rate 20-35% by count (~29% overall: new business ~25%, expansion ~43%;
    win-backs are always won)
  * MRR grows (signups accelerate over the window): roughly 3x from start to end
    (full data: ~$0.36M -> ~$1.17M USD, ~135 -> ~420 paying accounts)
  * ARPA: SMB ~$150-1,000, Mid-Market ~$1-4.5k, Enterprise ~$6-25k MRR (USD)
  * lead funnel: ~35% of leads reach MQL, ~40% of MQLs reach SQL, most SQLs get an opp

Money: subscriptions and invoices are in the account's billing currency (USD, EUR, GBP,
CAD, AUD, JPY); raw_fx_rates holds one fixed USD rate per currency. Everything sales- and
marketing-side (opportunity amounts = ACV = 12 x MRR, quotas, forecasts, campaign spend,
expenses) is in USD. Timestamps are UTC `YYYY-MM-DD HH:MM:SS` except
raw_product_events.occurred_at, which is the user's local time WITH a UTC offset
(`2024-03-05 14:22:01+02:00`). Dates are `YYYY-MM-DD`. An empty field is NULL.

Referential integrity holds everywhere (every *_id points at an existing row of the
table it names; a user on an event/ticket/NPS response belongs to that row's account;
every currency is in raw_fx_rates once upper-cased; every opportunity stage is in
raw_opportunity_stages; every event name except 'Session Started' is a feature's event in
raw_feature_releases, and no feature's event occurs before its release date).
The script checks all of it before it writes anything.

Deliberate messy cases (staging or intermediate models must handle them):
  1. raw_leads: duplicate leads -- same email_hash created <= 30 days after an earlier
     lead (form re-submits); in ~25% of them the *duplicate* is the one that reached the
     further stage (SQL / opportunity). Also re-engagements with the same email_hash
     31-120 days later, which are NOT duplicates under the metric spec. A few email
     hashes are upper-cased (compare lower-cased).
  2. Null channels: raw_leads.channel (~3%) and raw_touchpoints.channel (~2%) empty.
  3. raw_leads with sql_at set but mql_at NULL (skipped MQL; reaching SQL implies MQL).
  4. Reopened opportunities: stage history goes ... -> Closed Lost -> Negotiation ->
     Closed Won/Lost; a few are still open again at the end of the data. The
     opportunity row shows the final (or current) state only.
  5. Open opportunities at the data end (closed_at NULL, is_closed false).
  6. Mid-month plan changes (end_date of the old row = start_date of the new row =
     the change day); an upgrade followed by a downgrade in the same month, so one
     subscription row starts and ends inside one month and never counts at a month end;
     concurrent add-on subscriptions; cancellations scheduled after the data end
     (end_date later than the last day of data).
  7. Reactivations: an account cancels (all its subscriptions end) and comes back on a
     new subscription (change_type 'reactivation') after a gap that spans month ends.
  8. Churns without a raw_churn_reasons row (~10%); a scheduled cancellation's reason row
     has churned_on after the data end; the pre-window base's history (subscriptions,
     churns, reasons) reaches back before the window's start.
  9. Exact duplicate rows (same id, all columns equal) in raw_product_events (~0.3%,
     collector re-deliveries) and raw_campaign_daily (re-delivered days).
 10. raw_product_events.occurred_at carries UTC offsets from -08:00 to +11:00; the local
     date (and month) often differs from the UTC date. Events whose UTC time falls
     outside the data window were cut, so the window is exact in UTC.
 11. raw_campaign_daily: paused days with 0 impressions, 0 clicks, 0 spend (CTR NULL).
 12. raw_accounts.segment spelled inconsistently for a few rows ('smb', 'Mid Market',
     'mid-market', 'enterprise', 'ENT') and billing_currency lower-cased for a few.
 13. raw_forecast_submissions: rep-months with no `commit` submission at all; submissions
     at exactly 00:00:00 on the forecast month's first day (not "before the month
     starts"); submissions during the month (to be ignored for accuracy).
 14. raw_touchpoints: ties -- two touches of one account at the same second.
 15. Won opportunities with no marketing touch in their attribution window.
 16. raw_invoices: overdue invoices (status 'open', due_date before the data end) and
     'uncollectible' ones around churn; invoice history starts at the window's start.
 17. Events are a deterministic sample of real usage (about one event in ten): usage
     metrics are computed on the sample as if it were complete.

Files (all with a header row): see SCHEMA below; it also feeds seeds/_seeds.yml, which
this script writes next to the CSVs (descriptions and declared column types).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import math
import os
import random
import sys
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from itertools import accumulate

SEED = 20250630

# --------------------------------------------------------------------------------------
# Schema: seed name -> (description, [(column, duckdb type, description)])
# --------------------------------------------------------------------------------------
SCHEMA: dict[str, tuple[str, list[tuple[str, str, str]]]] = {
    "raw_accounts": ("CRM accounts (customers and prospects), one row per account.", [
        ("id", "integer", "Account id."),
        ("account_name", "varchar", "Company name."),
        ("segment", "varchar", "SMB / Mid-Market / Enterprise; a few rows are spelled inconsistently."),
        ("tier", "varchar", "Tier 1 / Tier 2 / Tier 3 (strategic importance)."),
        ("industry", "varchar", "Industry."),
        ("region", "varchar", "NA / EMEA / APAC / LATAM."),
        ("country", "varchar", "Country name."),
        ("billing_currency", "varchar", "ISO currency of the account's subscriptions and invoices; a few are lower-case."),
        ("signup_date", "date", "Date the account was created (trial sign-up or CRM creation)."),
        ("acquisition_motion", "varchar", "self_serve or sales_led."),
        ("owner_rep_id", "integer", "Account owner (raw_reps.id)."),
    ]),
    "raw_users": ("Product users; every user belongs to one account.", [
        ("id", "integer", "User id."),
        ("account_id", "integer", "raw_accounts.id."),
        ("email_hash", "varchar", "sha256 of the lower-cased email."),
        ("role", "varchar", "admin / member / viewer."),
        ("signed_up_at", "timestamp", "UTC time the user was created."),
        ("deactivated_at", "timestamp", "UTC time the user was deactivated; NULL if active."),
    ]),
    "raw_campaigns": ("Marketing campaigns (one channel each).", [
        ("id", "integer", "Campaign id."),
        ("campaign_name", "varchar", "Campaign name."),
        ("channel", "varchar", "paid_search / paid_social / display / email / events / webinar / partner."),
        ("start_date", "date", "First day live."),
        ("end_date", "date", "Last day live (inclusive)."),
        ("budget", "double", "Planned budget, USD."),
    ]),
    "raw_campaign_daily": ("Daily campaign delivery (ad platform export); contains exact duplicate rows.", [
        ("campaign_id", "integer", "raw_campaigns.id."),
        ("report_date", "date", "Day (UTC)."),
        ("spend", "double", "Spend that day, USD."),
        ("impressions", "integer", "Impressions (or sends / attendees for email and events)."),
        ("clicks", "integer", "Clicks (or opens / scans)."),
    ]),
    "raw_leads": ("Marketing leads, one row per created lead record (duplicates included).", [
        ("id", "integer", "Lead id (increasing with created_at)."),
        ("email_hash", "varchar", "sha256 of the lead's email; a few are upper-case."),
        ("created_at", "timestamp", "UTC creation time."),
        ("lead_source", "varchar", "inbound / outbound / partner / event / referral / product."),
        ("channel", "varchar", "Marketing channel of the converting touch, 'outbound' for outbound; NULL for some."),
        ("campaign_id", "integer", "raw_campaigns.id when the lead came from a campaign."),
        ("status", "varchar", "new / working / nurture / disqualified / converted."),
        ("mql_at", "timestamp", "UTC time the lead became marketing qualified."),
        ("sql_at", "timestamp", "UTC time the lead became sales qualified."),
        ("converted_at", "timestamp", "UTC time the lead was converted to an account."),
        ("account_id", "integer", "raw_accounts.id of the converted account."),
        ("opportunity_id", "integer", "raw_opportunities.id created from the lead."),
    ]),
    "raw_touchpoints": ("Marketing touches per account.", [
        ("id", "integer", "Touchpoint id (increasing with touched_at)."),
        ("account_id", "integer", "raw_accounts.id."),
        ("touched_at", "timestamp", "UTC time of the touch."),
        ("channel", "varchar", "Marketing channel; NULL for some."),
        ("campaign_id", "integer", "raw_campaigns.id for campaign channels; NULL for organic/referral/direct."),
        ("touch_type", "varchar", "ad_click / email_click / event_attended / webinar_attended / partner_referral / site_visit / referral_visit."),
    ]),
    "raw_opportunities": ("Opportunities, current state (final state if closed).", [
        ("id", "integer", "Opportunity id (increasing with created_at)."),
        ("account_id", "integer", "raw_accounts.id."),
        ("owner_rep_id", "integer", "raw_reps.id of the owner."),
        ("opportunity_name", "varchar", "Name."),
        ("opportunity_type", "varchar", "new_business / expansion / win_back."),
        ("stage", "varchar", "Current stage (raw_opportunity_stages.stage)."),
        ("amount", "double", "ACV in USD (12 x MRR for won new business; 12 x MRR increase for expansion)."),
        ("created_at", "timestamp", "UTC creation time."),
        ("closed_at", "timestamp", "UTC time of the final close; NULL while open."),
        ("is_closed", "boolean", "Closed (won or lost)."),
        ("is_won", "boolean", "Closed won."),
    ]),
    "raw_opportunity_stage_history": ("Every stage an opportunity entered, with the amount at that time.", [
        ("id", "integer", "Row id."),
        ("opportunity_id", "integer", "raw_opportunities.id."),
        ("stage", "varchar", "Stage entered."),
        ("entered_at", "timestamp", "UTC time the stage was entered."),
        ("amount", "double", "Opportunity amount (USD) from that time on."),
    ]),
    "raw_opportunity_stages": ("Stage dictionary with the forecast probability of each stage.", [
        ("stage", "varchar", "Stage name."),
        ("stage_order", "integer", "Order in the sales process."),
        ("probability", "double", "Probability used for weighted pipeline."),
        ("is_closed", "boolean", "Closed stage."),
        ("is_won", "boolean", "Won stage."),
    ]),
    "raw_reps": ("Account executives; team = the segment they sell to.", [
        ("id", "integer", "Rep id."),
        ("rep_name", "varchar", "Name."),
        ("team", "varchar", "SMB / Mid-Market / Enterprise."),
        ("region", "varchar", "Home region."),
        ("role", "varchar", "AE."),
        ("hired_on", "date", "Start date."),
        ("terminated_on", "date", "Last day + 1; NULL if employed."),
    ]),
    "raw_rep_quotas": ("Quarterly closed-won quota per rep, USD.", [
        ("id", "integer", "Row id."),
        ("rep_id", "integer", "raw_reps.id."),
        ("quarter_start", "date", "First day of the quarter."),
        ("quota_amount", "double", "Closed-won (ACV) quota, USD."),
    ]),
    "raw_forecast_submissions": ("Rep forecast submissions by category.", [
        ("id", "integer", "Row id."),
        ("rep_id", "integer", "raw_reps.id."),
        ("submitted_at", "timestamp", "UTC submission time."),
        ("forecast_month", "date", "First day of the month forecast."),
        ("category", "varchar", "commit / best_case / pipeline."),
        ("amount", "double", "Forecast closed-won amount, USD."),
    ]),
    "raw_sales_activities": ("Sales activities (calls, emails, meetings, demos).", [
        ("id", "integer", "Row id."),
        ("rep_id", "integer", "raw_reps.id."),
        ("account_id", "integer", "raw_accounts.id."),
        ("opportunity_id", "integer", "raw_opportunities.id; NULL for prospecting activity."),
        ("activity_type", "varchar", "call / email / meeting / demo."),
        ("activity_at", "timestamp", "UTC time."),
        ("duration_minutes", "integer", "Duration; NULL for emails."),
    ]),
    "raw_subscriptions": ("Subscription periods; a plan change ends one row and starts the next on the same day.", [
        ("id", "integer", "Subscription id."),
        ("account_id", "integer", "raw_accounts.id."),
        ("plan", "varchar", "starter / growth / pro / enterprise / addon_analytics."),
        ("change_type", "varchar", "Why this row started: new / upgrade / downgrade / reactivation / addon."),
        ("start_date", "date", "First day in service."),
        ("end_date", "date", "First day out of service; NULL while active. May lie after the data end."),
        ("end_reason", "varchar", "plan_change / cancelled; NULL while active."),
        ("mrr", "double", "Monthly recurring revenue in the billing currency."),
        ("currency", "varchar", "ISO currency (raw_fx_rates.currency)."),
    ]),
    "raw_fx_rates": ("One fixed USD rate per currency (constant-currency reporting).", [
        ("currency", "varchar", "ISO currency."),
        ("rate_to_usd", "double", "USD per one unit of the currency."),
    ]),
    "raw_invoices": ("Monthly invoices per subscription.", [
        ("id", "integer", "Invoice id."),
        ("account_id", "integer", "raw_accounts.id."),
        ("subscription_id", "integer", "raw_subscriptions.id."),
        ("invoice_date", "date", "Issue date."),
        ("due_date", "date", "Due date."),
        ("amount", "double", "Amount in the billing currency."),
        ("currency", "varchar", "ISO currency."),
        ("status", "varchar", "paid / open / void / uncollectible (open past due_date = overdue)."),
        ("paid_on", "date", "Payment date; NULL unless paid."),
    ]),
    "raw_support_tickets": ("Support tickets.", [
        ("id", "integer", "Ticket id."),
        ("account_id", "integer", "raw_accounts.id."),
        ("user_id", "integer", "raw_users.id of the requester (a user of the account)."),
        ("created_at", "timestamp", "UTC creation time."),
        ("resolved_at", "timestamp", "UTC resolution time; NULL while open."),
        ("priority", "varchar", "low / normal / high / urgent."),
        ("status", "varchar", "open / pending / solved."),
        ("category", "varchar", "billing / bug / how_to / feature_request / integration."),
        ("csat_score", "integer", "1-5 satisfaction score; NULL if not rated."),
    ]),
    "raw_nps_responses": ("NPS survey responses.", [
        ("id", "integer", "Response id."),
        ("account_id", "integer", "raw_accounts.id."),
        ("user_id", "integer", "raw_users.id (a user of the account)."),
        ("responded_at", "timestamp", "UTC time."),
        ("score", "integer", "0-10."),
    ]),
    "raw_churn_reasons": ("Reason recorded when an account cancelled (missing for some churns).", [
        ("id", "integer", "Row id."),
        ("account_id", "integer", "raw_accounts.id."),
        ("subscription_id", "integer", "raw_subscriptions.id of the cancelled main subscription."),
        ("churned_on", "date", "Effective cancellation date (= the subscription's end_date)."),
        ("reason", "varchar", "price / competitor / no_usage / budget / missing_features / acquired / other."),
        ("competitor", "varchar", "Competitor name when reason = competitor."),
    ]),
    "raw_product_events": ("Product analytics events (a ~10% sample); exact duplicate rows included.", [
        ("id", "integer", "Event id (increasing with UTC time)."),
        ("account_id", "integer", "raw_accounts.id."),
        ("user_id", "integer", "raw_users.id (a user of the account)."),
        ("event_name", "varchar", "'Object Action', e.g. 'Report Generated'."),
        ("occurred_at", "varchar", "Local time with UTC offset, e.g. '2024-03-05 14:22:01+02:00'; convert to UTC in staging."),
    ]),
    "raw_feature_releases": ("Product features, the event that signals their use, and release dates.", [
        ("id", "integer", "Feature id."),
        ("feature_name", "varchar", "Feature name."),
        ("event_name", "varchar", "Event emitted when the feature is used."),
        ("released_on", "date", "General availability date."),
        ("is_core", "boolean", "Core feature (counts in engagement breadth)."),
    ]),
    "raw_sm_expenses": ("Monthly sales & marketing expense: marketing rows by channel, sales rows by segment team.", [
        ("id", "integer", "Row id."),
        ("expense_month", "date", "First day of the month."),
        ("department", "varchar", "marketing / sales."),
        ("channel", "varchar", "Marketing channel (marketing rows); NULL for sales rows."),
        ("segment", "varchar", "Sales team segment (sales rows); NULL for marketing rows."),
        ("category", "varchar", "media / programs (marketing); salaries / commissions (sales)."),
        ("amount", "double", "USD."),
    ]),
}

# --------------------------------------------------------------------------------------
# Reference data
# --------------------------------------------------------------------------------------
SEGMENTS = ["SMB", "Mid-Market", "Enterprise"]
SEG_WEIGHTS = [0.60, 0.30, 0.10]
SEGMENT_VARIANTS = {"SMB": ["smb", "SMB "], "Mid-Market": ["Mid Market", "mid-market"],
                    "Enterprise": ["enterprise", "ENT"]}
TIERS = {"SMB": (["Tier 2", "Tier 3"], [0.25, 0.75]),
         "Mid-Market": (["Tier 1", "Tier 2", "Tier 3"], [0.2, 0.6, 0.2]),
         "Enterprise": (["Tier 1", "Tier 2"], [0.7, 0.3])}
INDUSTRIES = ["Software", "Financial Services", "Healthcare", "Retail & eCommerce",
              "Manufacturing", "Education", "Media", "Professional Services"]
REGIONS = ["NA", "EMEA", "APAC", "LATAM"]
REGION_WEIGHTS = [0.50, 0.30, 0.12, 0.08]
COUNTRIES = {  # region -> [(country, currency, weight)]
    "NA": [("United States", "USD", 0.85), ("Canada", "CAD", 0.15)],
    "EMEA": [("United Kingdom", "GBP", 0.3), ("Germany", "EUR", 0.2), ("France", "EUR", 0.15),
             ("Netherlands", "EUR", 0.1), ("Sweden", "EUR", 0.08), ("Spain", "EUR", 0.07),
             ("Israel", "USD", 0.1)],
    "APAC": [("Australia", "AUD", 0.4), ("Singapore", "USD", 0.2), ("Japan", "JPY", 0.2),
             ("India", "USD", 0.2)],
    "LATAM": [("Brazil", "USD", 0.5), ("Mexico", "USD", 0.3), ("Chile", "USD", 0.2)],
}
TZ_OFFSETS = {"NA": ["-05:00", "-06:00", "-07:00", "-08:00", "-04:00"],
              "EMEA": ["+00:00", "+01:00", "+02:00", "+03:00"],
              "APAC": ["+05:30", "+08:00", "+09:00", "+10:00", "+11:00"],
              "LATAM": ["-03:00", "-05:00", "-06:00"]}
FX = {"USD": 1.0, "EUR": 1.09, "GBP": 1.27, "CAD": 0.74, "AUD": 0.66, "JPY": 0.0068}

PAID_CHANNELS = ["paid_search", "paid_social", "display", "email", "events", "webinar", "partner"]
ORGANIC_CHANNELS = ["organic_search", "referral", "direct"]
CHANNEL_WEIGHTS = {"paid_search": 3.0, "paid_social": 2.0, "display": 1.0, "email": 1.2,
                   "events": 1.0, "webinar": 1.5, "partner": 0.7,
                   "organic_search": 3.0, "referral": 1.0, "direct": 1.5}
TOUCH_TYPE = {"paid_search": "ad_click", "paid_social": "ad_click", "display": "ad_click",
              "email": "email_click", "events": "event_attended", "webinar": "webinar_attended",
              "partner": "partner_referral", "organic_search": "site_visit",
              "referral": "referral_visit", "direct": "site_visit"}
LEAD_SOURCE = {"events": "event", "partner": "partner", "referral": "referral"}
# channel -> (daily spend USD, CPM USD, CTR range, duration days range)
CAMPAIGN_PROFILE = {
    "paid_search": (180.0, 30.0, (0.03, 0.06), (30, 150)),
    "paid_social": (120.0, 9.0, (0.006, 0.015), (30, 120)),
    "display": (70.0, 3.0, (0.001, 0.003), (30, 120)),
    "email": (12.0, 1.5, (0.02, 0.05), (20, 90)),
    "events": (3500.0, 2500.0, (0.10, 0.30), (1, 4)),
    "webinar": (45.0, 150.0, (0.20, 0.50), (7, 21)),
    "partner": (90.0, 20.0, (0.01, 0.03), (30, 120)),
}
CAMPAIGN_THEMES = ["Forecasting", "Pipeline Visibility", "Board Reporting", "RevOps Summit",
                   "Data Stack", "Self-Serve BI", "Churn Insights", "Exec Dashboards",
                   "Spring Launch", "Fall Launch", "Competitive Switch", "Free Trial"]
CHANNEL_TITLES = {"paid_search": "Paid Search", "paid_social": "Paid Social", "display": "Display",
                  "email": "Email", "events": "Event", "webinar": "Webinar", "partner": "Partner"}

OPEN_STAGES = ["Prospecting", "Discovery", "Proposal", "Negotiation"]
STAGES = [("Prospecting", 1, 0.10, False, False), ("Discovery", 2, 0.20, False, False),
          ("Proposal", 3, 0.40, False, False), ("Negotiation", 4, 0.70, False, False),
          ("Closed Won", 5, 1.00, True, True), ("Closed Lost", 6, 0.00, True, False)]

# segment -> parameters
SEG = {
    "SMB": dict(mrr_usd=(150, 1000), cycle=(10, 45), p_win=0.27, churn=0.024, up=0.030,
                down=0.012, users=(2, 8), tickets=0.15, acts=3, self_serve=0.35, addon=0.0,
                net=30, rep_cost=9000.0),
    "Mid-Market": dict(mrr_usd=(1000, 4500), cycle=(25, 100), p_win=0.23, churn=0.011,
                       up=0.035, down=0.010, users=(6, 25), tickets=0.4, acts=5,
                       self_serve=0.0, addon=0.012, net=30, rep_cost=13000.0),
    "Enterprise": dict(mrr_usd=(6000, 25000), cycle=(45, 180), p_win=0.20, churn=0.005,
                       up=0.04, down=0.008, users=(15, 60), tickets=1.0, acts=8,
                       self_serve=0.0, addon=0.02, net=45, rep_cost=20000.0),
}
REP_TEAM_SIZE = {"SMB": 14, "Mid-Market": 10, "Enterprise": 6}

FEATURES = [  # (name, event, released_on, is_core)
    ("Reports", "Report Generated", date(2021, 3, 1), True),
    ("Dashboards", "Dashboard Created", date(2021, 3, 1), True),
    ("Data Sources", "Data Source Connected", date(2021, 3, 1), True),
    ("Team Invites", "User Invited", date(2021, 3, 1), True),
    ("Dashboard Sharing", "Dashboard Shared", date(2021, 9, 14), True),
    ("Comments", "Comment Added", date(2021, 3, 1), False),
    ("Exports", "Export Downloaded", date(2021, 3, 1), False),
    ("Alerts", "Alert Configured", date(2023, 4, 18), False),
    ("Scheduled Exports", "Export Scheduled", date(2023, 9, 12), False),
    ("Forecasting", "Forecast Created", date(2024, 3, 5), False),
    ("AI Summaries", "Summary Generated", date(2024, 10, 8), False),
    ("Slack Integration", "Integration Enabled", date(2025, 2, 11), False),
]
BASE_ACTIONS = {"Report Generated": 5.0, "Dashboard Created": 1.5, "Dashboard Shared": 1.0,
                "Data Source Connected": 0.4, "Comment Added": 1.5, "Export Downloaded": 1.2}
CHURN_REASONS = (["price", "competitor", "no_usage", "budget", "missing_features", "acquired", "other"],
                 [0.18, 0.17, 0.22, 0.16, 0.12, 0.05, 0.10])
COMPETITORS = ["Looker", "Tableau", "Mode", "Sigma", "Metabase"]
FIRST_NAMES = ["Ava", "Ben", "Chloe", "Dev", "Elena", "Femi", "Grace", "Hiro", "Ines", "Jonas",
               "Kara", "Luis", "Maya", "Nikhil", "Olga", "Priya", "Quinn", "Rafael", "Sara",
               "Tomas", "Uma", "Victor", "Wen", "Yara", "Zane"]
LAST_NAMES = ["Adams", "Brooks", "Chen", "Diaz", "Eriksen", "Fischer", "Garcia", "Haddad",
              "Ito", "Jensen", "Kowalski", "Lopez", "Moreau", "Nakamura", "Okafor", "Patel",
              "Quispe", "Rossi", "Singh", "Tanaka", "Usman", "Varga", "Walsh", "Young", "Zhou"]
NAME_A = ["Acme", "Blue", "Cedar", "Delta", "Ember", "Falcon", "Granite", "Harbor", "Iron",
          "Juniper", "Kestrel", "Lumen", "Maple", "Nimbus", "Onyx", "Pioneer", "Quartz",
          "River", "Summit", "Tidal", "Umber", "Vertex", "Willow", "Xenon", "Yonder", "Zenith"]
NAME_B = ["", "stone", "line", "field", "point", "wave", "gate", "works", "bridge", "light"]
NAME_C = ["Labs", "Systems", "Analytics", "Group", "Inc", "Health", "Capital", "Retail",
          "Logistics", "Software", "Partners", "Media", "Foods", "Energy", "Robotics"]


# --------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------
@dataclass
class Config:
    start: date
    end: date                 # last day of data (inclusive)
    n_accounts: int
    base_frac: float          # share of accounts that are pre-window customers
    base_from: date           # earliest signup of the pre-window base
    rep_scale: float
    n_campaigns: int
    money_scale: float        # scales fixed program costs
    unconverted_leads: float  # unconverted leads per converted lead
    event_rate: float         # product-event sampling intensity
    boost: float = 1.0        # multiplies messy-case / churn probabilities (tiny data)
    tiny: bool = False


def full_config(scale: float) -> Config:
    return Config(start=date(2023, 1, 1), end=date(2025, 6, 30),
                  n_accounts=max(20, round(1000 * scale)), base_frac=0.15,
                  base_from=date(2021, 6, 1), rep_scale=scale,
                  n_campaigns=max(8, round(110 * scale)), money_scale=scale,
                  unconverted_leads=5.0, event_rate=0.75)


def tiny_config() -> Config:
    return Config(start=date(2024, 10, 1), end=date(2025, 3, 31), n_accounts=20,
                  base_frac=0.30, base_from=date(2024, 1, 1), rep_scale=0.0,
                  n_campaigns=6, money_scale=0.02, unconverted_leads=1.5, event_rate=0.35,
                  boost=4.0, tiny=True)


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------
def add_months(d: date, n: int) -> date:
    y, m = divmod(d.month - 1 + n, 12)
    return date(d.year + y, m + 1, 1)


def month_end(d: date) -> date:
    return add_months(d, 1) - timedelta(days=1)


def months(a: date, b: date):
    """Month starts from a's month through b's month."""
    m = a.replace(day=1)
    while m <= b:
        yield m
        m = add_months(m, 1)


def fmt_ts(dt: datetime | None) -> str:
    return "" if dt is None else dt.strftime("%Y-%m-%d %H:%M:%S")


def fmt_d(d: date | None) -> str:
    return "" if d is None else d.isoformat()


def fmt_money(x: float | None) -> str:
    return "" if x is None else f"{x:.2f}"


def fmt_bool(b: bool) -> str:
    return "true" if b else "false"


def sha(s: str) -> str:
    return hashlib.sha256(s.encode()).hexdigest()


def offset_minutes(off: str) -> int:
    sign = -1 if off[0] == "-" else 1
    return sign * (int(off[1:3]) * 60 + int(off[4:6]))


def quarter_start(d: date) -> date:
    return date(d.year, 3 * ((d.month - 1) // 3) + 1, 1)


@dataclass
class Sub:
    account_id: int
    plan: str
    change_type: str
    start: date
    mrr: float
    currency: str
    end: date | None = None
    end_reason: str | None = None
    id: int = 0
    is_addon: bool = False


@dataclass
class Opp:
    account_id: int
    owner: int
    otype: str
    name: str
    created: datetime
    history: list          # [(stage, entered_at, amount)] already cut at the data end
    amount: float
    closed: datetime | None
    is_won: bool
    reopened: bool = False
    id: int = 0


@dataclass
class Account:
    key: int
    signup: date
    segment: str
    region: str
    country: str
    currency: str
    industry: str
    tier: str
    health: float
    motion: str
    is_base: bool
    offset: str
    id: int = 0
    name: str = ""
    owner: int = 0
    subs: list = field(default_factory=list)
    opps: list = field(default_factory=list)
    users: list = field(default_factory=list)  # [uid, signed_up_at, deactivated_at, offset, email_hash]
    usage: list = field(default_factory=list)   # [(from_date, to_date_exclusive)]
    churns: list = field(default_factory=list)  # [(sub, date)]
    lead_person: str | None = None


# --------------------------------------------------------------------------------------
# Generator
# --------------------------------------------------------------------------------------
class Generator:
    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.rng = random.Random(SEED)
        self.start_dt = datetime.combine(cfg.start, time())
        self.end_dt = datetime.combine(cfg.end, time(23, 59, 59))
        self.window_days = (cfg.end - cfg.start).days + 1
        self.tables: dict[str, list[dict]] = {}
        self.messy: dict[str, int] = {}
        self.forced: set[str] = set()

    # -- small random helpers ---------------------------------------------------------
    def u(self, a, b):
        return self.rng.uniform(a, b)

    def chance(self, p):
        return self.rng.random() < p

    def pick(self, items, weights=None):
        return self.rng.choices(items, weights)[0]

    def at_time(self, d: date, h0=8, h1=19) -> datetime:
        return datetime.combine(d, time()) + timedelta(seconds=self.rng.randrange(h0 * 3600, h1 * 3600))

    def want(self, key, p):
        """chance(p); on the tiny data also True the first time, so every messy case appears."""
        if self.chance(p):
            return True
        if self.cfg.tiny and key not in self.forced:
            self.forced.add(key)
            return True
        return False

    def note(self, key, n=1):
        self.messy[key] = self.messy.get(key, 0) + n

    # -- reps -------------------------------------------------------------------------
    def gen_reps(self):
        cfg, rng = self.cfg, self.rng
        self.reps = []
        rid = 101
        for seg in SEGMENTS:
            n = max(1, round(REP_TEAM_SIZE[seg] * cfg.rep_scale)) if not cfg.tiny else (2 if seg == "SMB" else 1)
            for i in range(n):
                if i < max(1, round(n * 0.7)):
                    hired = cfg.start - timedelta(days=rng.randint(60, 900))
                else:
                    hired = cfg.start + timedelta(days=rng.randint(30, max(31, self.window_days - 120)))
                name = f"{self.pick(FIRST_NAMES)} {self.pick(LAST_NAMES)}"
                self.reps.append(dict(id=rid, rep_name=name, team=seg,
                                      region=self.pick(REGIONS, [0.55, 0.3, 0.1, 0.05]),
                                      role="AE", hired_on=hired, terminated_on=None))
                rid += 1
        if not cfg.tiny:  # two reps leave during the window
            leavers = [r for r in self.reps if r["hired_on"] < cfg.start and r["team"] != "Enterprise"][:2]
            for r in leavers:
                r["terminated_on"] = cfg.start + timedelta(days=rng.randint(200, self.window_days - 100))

    def rep_active(self, r, d0: date, d1: date) -> bool:
        return r["hired_on"] <= d0 and (r["terminated_on"] is None or r["terminated_on"] > d1)

    def pick_rep(self, segment: str, d0: date, d1: date, prefer: int | None = None) -> int:
        team = [r for r in self.reps if r["team"] == segment]
        if prefer is not None:
            for r in team:
                if r["id"] == prefer and self.rep_active(r, d0, d1):
                    return prefer
        ok = [r for r in team if self.rep_active(r, d0, d1)] or \
             [r for r in team if self.rep_active(r, d0, d0)] or team
        return self.rng.choice(ok)["id"]

    # -- campaigns --------------------------------------------------------------------
    def gen_campaigns(self):
        cfg, rng = self.cfg, self.rng
        campaigns, daily = [], []
        chans = list(CHANNEL_WEIGHTS)[:len(PAID_CHANNELS)]
        cw = [CHANNEL_WEIGHTS[c] for c in chans]
        for i in range(cfg.n_campaigns):
            # the first few campaigns are always-on programs live from the first day
            channel = chans[i % len(chans)] if i < len(chans) else self.pick(chans, cw)
            spend0, cpm, ctr, dur = CAMPAIGN_PROFILE[channel]
            if i < min(4, cfg.n_campaigns):
                channel = ["paid_search", "paid_social", "email", "webinar"][i]
                spend0, cpm, ctr, dur = CAMPAIGN_PROFILE[channel]
                start = cfg.start
                length = self.window_days if channel in ("paid_search", "email") else rng.randint(*dur) * 3
            else:
                start = cfg.start + timedelta(days=rng.randint(0, max(1, self.window_days - 15)))
                length = rng.randint(*dur)
            end = min(cfg.end, start + timedelta(days=length - 1))
            theme = self.pick(CAMPAIGN_THEMES)
            q = (start.month - 1) // 3 + 1
            name = f"{start.year}-Q{q} {CHANNEL_TITLES[channel]} - {theme}"
            cid = 301 + i
            level = spend0 * self.u(0.6, 1.5) * (0.7 if cfg.tiny else 1.0)
            total = 0.0
            d = start
            while d <= end:
                growth = 1.0 + 0.8 * (d - cfg.start).days / self.window_days
                if self.chance(0.03):  # paused day
                    row = dict(campaign_id=cid, report_date=d, spend=0.0, impressions=0, clicks=0)
                else:
                    spend = round(level * growth * self.u(0.6, 1.4), 2)
                    imps = max(1, int(spend / cpm * 1000 * self.u(0.8, 1.25)))
                    clicks = int(imps * self.u(*ctr))
                    row = dict(campaign_id=cid, report_date=d, spend=spend, impressions=imps, clicks=clicks)
                total += row["spend"]
                daily.append(row)
                if self.chance(0.004 * cfg.boost):  # re-delivered row
                    daily.append(dict(row))
                    self.note("campaign_daily exact duplicate rows")
                if row["impressions"] == 0:
                    self.note("campaign_daily zero-impression days")
                d += timedelta(days=1)
            budget = round(total * self.u(0.95, 1.2), -2) if total else 1000.0
            campaigns.append(dict(id=cid, campaign_name=name, channel=channel, start_date=start,
                                  end_date=end, budget=budget))
        self.campaigns = campaigns
        self.tables["raw_campaigns"] = campaigns
        self.tables["raw_campaign_daily"] = daily
        # day -> channel -> [campaign ids]
        self.live: dict[date, dict[str, list[int]]] = {}
        for c in campaigns:
            d = c["start_date"]
            while d <= c["end_date"]:
                self.live.setdefault(d, {}).setdefault(c["channel"], []).append(c["id"])
                d += timedelta(days=1)

    def choose_channel(self, d: date, allow_null=True):
        """(channel, campaign_id) for a marketing touch on day d."""
        live = self.live.get(d, {})
        options = [c for c in CHANNEL_WEIGHTS if c in ORGANIC_CHANNELS or c in live]
        ch = self.pick(options, [CHANNEL_WEIGHTS[c] for c in options])
        camp = self.rng.choice(live[ch]) if ch in live else None
        return ch, camp

    # -- accounts ---------------------------------------------------------------------
    def gen_accounts(self):
        cfg, rng = self.cfg, self.rng
        n = cfg.n_accounts
        n_base = round(n * cfg.base_frac)
        # growth-weighted signup days in the window (starting two weeks in)
        first = cfg.start + timedelta(days=14)
        days = [first + timedelta(days=i) for i in range((cfg.end - first).days + 1)]
        T = len(days)
        cum = list(accumulate(1.0 + 2.0 * i / T for i in range(T)))
        signups = [rng.choices(days, cum_weights=cum)[0] for _ in range(n - n_base)]
        base_span = (cfg.start - cfg.base_from).days
        signups += [cfg.base_from + timedelta(days=rng.randrange(base_span - 30)) for _ in range(n_base)]
        accounts = []
        for k, s in enumerate(signups):
            seg = self.pick(SEGMENTS, SEG_WEIGHTS)
            region = self.pick(REGIONS, REGION_WEIGHTS)
            cs = COUNTRIES[region]
            country, cur, _ = cs[bisect_right(list(accumulate(c[2] for c in cs)), rng.random() * sum(c[2] for c in cs))]
            tiers, tw = TIERS[seg]
            is_base = k >= n - n_base
            motion = "self_serve" if (seg == "SMB" and not is_base and self.chance(SEG[seg]["self_serve"])) else "sales_led"
            accounts.append(Account(key=k, signup=s, segment=seg, region=region, country=country,
                                    currency=cur, industry=self.pick(INDUSTRIES),
                                    tier=self.pick(tiers, tw), health=rng.betavariate(3, 2),
                                    motion=motion, is_base=is_base,
                                    offset=self.pick(TZ_OFFSETS[region])))
        accounts.sort(key=lambda a: (a.signup, a.key))
        used = set()
        for i, a in enumerate(accounts):
            a.id = 1001 + i
            while True:
                nm = f"{self.pick(NAME_A)}{self.pick(NAME_B)} {self.pick(NAME_C)}"
                if nm not in used:
                    used.add(nm)
                    break
            a.name = nm
            a.owner = self.pick_rep(a.segment, max(a.signup, cfg.start), max(a.signup, cfg.start))
        self.accounts = accounts

    # -- pricing ----------------------------------------------------------------------
    def local_price(self, usd: float, cur: str) -> float:
        step = 1000 if cur == "JPY" else 10
        return max(step, round(usd / FX[cur] / step) * step)

    @staticmethod
    def plan_for(mrr_usd: float) -> str:
        if mrr_usd < 400:
            return "starter"
        if mrr_usd < 1500:
            return "growth"
        if mrr_usd < 5000:
            return "pro"
        return "enterprise"

    def initial_mrr(self, a: Account) -> float:
        lo, hi = SEG[a.segment]["mrr_usd"]
        usd = math.exp(self.u(math.log(lo), math.log(hi)))
        return self.local_price(usd, a.currency)

    # -- opportunities ----------------------------------------------------------------
    def make_opp(self, a: Account, otype: str, created: datetime, close: datetime, won: bool,
                 amount: float, allow_reopen=True) -> Opp | None:
        cfg, rng = self.cfg, self.rng
        if created > self.end_dt:
            return None
        if won:
            path = list(OPEN_STAGES)
            if self.chance(0.15):
                path.remove("Discovery")
        else:
            path = OPEN_STAGES[:self.pick([1, 2, 3, 4], [0.25, 0.3, 0.3, 0.15])]
        span = close - created
        offs = sorted(rng.random() * 0.9 for _ in range(len(path) - 1))
        est = round(amount * self.u(0.7, 1.4), -2) or 100.0
        hist = []
        for j, st in enumerate(path):
            t = created if j == 0 else created + span * offs[j - 1]
            amt = est if OPEN_STAGES.index(st) < 2 else (amount if won else round(est * self.u(0.85, 1.1), -2))
            hist.append((st, t, amt))
        last_amt = hist[-1][2]
        hist.append(("Closed Won" if won else "Closed Lost", close, amount if won else last_amt))
        reopened = False
        if not won and allow_reopen and close + timedelta(days=60) < self.end_dt and self.want("reopen", 0.04):
            t_re = close + timedelta(days=self.u(5, 40))
            close2 = t_re + timedelta(days=self.u(10, 45))
            won2 = self.chance(0.5)
            hist.append(("Negotiation", t_re, amount))
            hist.append(("Closed Won" if won2 else "Closed Lost", close2, amount if won2 else amount))
            reopened = t_re <= self.end_dt
        hist = [h for h in hist if h[1] <= self.end_dt]
        stage, t_last, amt_now = hist[-1]
        closed = t_last if stage.startswith("Closed") else None
        if reopened:
            self.note("reopened opportunities")
            if closed is None:
                self.note("reopened opportunities still open at the end")
        if closed is None:
            self.note("open opportunities at the end")
        owner = self.pick_rep(a.segment, created.date(), (closed or self.end_dt).date(), prefer=a.owner)
        label = {"new_business": "New Business", "expansion": "Expansion", "win_back": "Win-back"}[otype]
        o = Opp(account_id=a.id, owner=owner, otype=otype, name=f"{a.name} - {label}",
                created=created, history=hist, amount=amt_now, closed=closed,
                is_won=stage == "Closed Won", reopened=reopened)
        a.opps.append(o)
        return o

    # -- subscriptions ----------------------------------------------------------------
    def start_subscription(self, a: Account, start: date, mrr: float, change_type: str):
        s = Sub(a.id, self.plan_for(mrr * FX[a.currency]), change_type, start, mrr, a.currency)
        a.subs.append(s)
        self.evolve(a, s)

    def evolve(self, a: Account, cur: Sub):
        """Simulate plan changes, add-ons, churn and reactivation month by month."""
        cfg, rng = self.cfg, self.rng
        p = SEG[a.segment]
        sales_led = a.motion == "sales_led"
        addon: Sub | None = None
        m = add_months(cur.start, 1)
        months_on = 0
        while m <= cfg.end:
            months_on += 1
            dim = month_end(m).day
            lo_day = m if m > cur.start else cur.start + timedelta(days=1)
            hi_day = min(month_end(m), cfg.end)
            if lo_day > hi_day:
                m = add_months(m, 1)
                continue
            day = lo_day + timedelta(days=rng.randrange((hi_day - lo_day).days + 1))
            hazard = p["churn"] * (1.8 - 1.5 * a.health) * (cfg.boost if cfg.tiny else 1.0)
            if months_on >= 2 and self.chance(hazard):
                # churn: everything ends on `day`
                for s in (cur, addon):
                    if s is not None and s.end is None:
                        s.end, s.end_reason = day, "cancelled"
                a.churns.append((cur, day))
                react_p = 0.20 * (cfg.boost if cfg.tiny else 1.0)
                if self.chance(react_p):
                    gap = rng.randint(45, 70 if cfg.tiny else 270)
                    rday = day + timedelta(days=gap)
                    if rday <= cfg.end:
                        mrr = self.local_price(cur.mrr * FX[a.currency] * self.u(0.7, 1.1), a.currency)
                        self.note("reactivations")
                        cl = self.at_time(rday)
                        cr = cl - timedelta(days=self.u(10, 40))
                        if sales_led and cr >= self.start_dt:
                            amt = round(12 * mrr * FX[a.currency], 2)
                            self.make_opp(a, "win_back", cr, cl, True, amt, allow_reopen=False)
                        s = Sub(a.id, self.plan_for(mrr * FX[a.currency]), "reactivation", rday, mrr, a.currency)
                        a.subs.append(s)
                        self.evolve(a, s)
                return
            r = rng.random()
            if r < p["up"] + p["down"]:
                up = r < p["up"]
                factor = self.u(1.15, 1.7) if up else self.u(0.55, 0.9)
                new_mrr = self.local_price(cur.mrr * FX[a.currency] * factor, a.currency)
                if (up and new_mrr > cur.mrr) or (not up and 0 < new_mrr < cur.mrr):
                    same_month = up and day.day <= min(20, dim - 8) and day + timedelta(days=8) <= cfg.end \
                        and self.want("same_month", 0.05)
                    cur.end, cur.end_reason = day, "plan_change"
                    nxt = Sub(a.id, self.plan_for(new_mrr * FX[a.currency]), "upgrade" if up else "downgrade",
                              day, new_mrr, a.currency)
                    a.subs.append(nxt)
                    if up and sales_led and (a.segment != "SMB" or self.chance(0.5)):
                        amt = round(12 * (new_mrr - cur.mrr) * FX[a.currency], 2)
                        cl = self.at_time(day)
                        cr = max(datetime.combine(cur.start, time(9)), cl - timedelta(days=self.u(10, 60)))
                        if cr >= self.start_dt:
                            self.make_opp(a, "expansion", cr, cl, True, amt)
                            lo = max(self.start_dt, datetime.combine(a.subs[0].start, time(9))) + timedelta(days=40)
                            hi = min(self.end_dt, cl + timedelta(days=120))
                            for _ in range(self.pick([1, 1, 2])):  # lost expansion attempts around it
                                if hi > lo:
                                    lc = lo + (hi - lo) * rng.random()
                                    self.make_opp(a, "expansion", lc - timedelta(days=self.u(15, 40)), lc, False,
                                                  round(amt * self.u(0.6, 1.5), 2), allow_reopen=False)
                    if same_month:
                        # customer upgrades, then goes back down a few days later, same month
                        d2 = day + timedelta(days=rng.randint(2, 7))
                        nxt.end, nxt.end_reason = d2, "plan_change"
                        back = Sub(a.id, cur.plan, "downgrade", d2, cur.mrr, a.currency)
                        a.subs.append(back)
                        nxt = back
                        self.note("subscriptions starting and ending in one month")
                    cur = nxt
            # add-ons
            if addon is None and self.chance(p["addon"] * (cfg.boost if cfg.tiny else 1.0)):
                amrr = self.local_price(self.u(200, 900), a.currency)
                addon = Sub(a.id, "addon_analytics", "addon", day, amrr, a.currency, is_addon=True)
                a.subs.append(addon)
                self.note("add-on subscriptions")
            elif addon is not None and addon.end is None and addon.start < day and self.chance(0.03):
                addon.end, addon.end_reason = day, "cancelled"
            m = add_months(m, 1)
        # still active at the end: a few have a cancellation scheduled after the data end
        if cur.end is None and self.chance(0.012 * cfg.boost):
            d = cfg.end + timedelta(days=rng.randint(1, 45))
            for s in (cur, addon):
                if s is not None and s.end is None:
                    s.end, s.end_reason = d, "cancelled"
            a.churns.append((cur, d))
            self.note("cancellations scheduled after the data end")

    # -- account lifecycles -----------------------------------------------------------
    def gen_lifecycles(self):
        cfg, rng = self.cfg, self.rng
        self.leads: list[dict] = []
        for a in self.accounts:
            p = SEG[a.segment]
            if a.is_base:
                start = a.signup + timedelta(days=rng.randint(0, 25))
                start = min(start, cfg.start - timedelta(days=1))
                self.start_subscription(a, start, self.initial_mrr(a), "new")
                continue
            person = f"person-{a.key}"
            a.lead_person = person
            signup_dt = self.at_time(a.signup)
            if a.motion == "self_serve":
                # product sign-up is the lead; trial of 14-30 days
                lead = dict(email_hash=sha(person), created_at=signup_dt, lead_source="product",
                            channel=None, campaign_id=None, status="new", mql_at=None, sql_at=None,
                            converted_at=None, account_id=None, opportunity_id=None, _acct=a)
                self.pre_lead_touches(a, lead)
                trial = rng.randint(14, 30)
                a.trial = (a.signup, a.signup + timedelta(days=trial))
                if self.chance(0.8):
                    lead["mql_at"] = signup_dt + timedelta(hours=self.u(2, 96))
                lead["status"] = "nurture"
                if self.chance(0.55 * (0.8 + 0.4 * a.health)):
                    sday = a.signup + timedelta(days=trial)
                    if sday <= cfg.end:
                        lead["status"] = "converted"
                        lead["converted_at"] = datetime.combine(sday, time(10))
                        lead["account_id"] = a.id
                        self.start_subscription(a, sday, self.initial_mrr(a), "new")
                self.leads.append(lead)
                continue
            # sales-led
            outbound = self.chance(0.25)
            lead_created = signup_dt - timedelta(days=self.u(3, 35))
            lead_created = max(lead_created, self.start_dt + timedelta(hours=self.u(1, 200)))
            lead = dict(email_hash=sha(person), created_at=lead_created,
                        lead_source="outbound" if outbound else "inbound",
                        channel="outbound" if outbound else None, campaign_id=None, status="working",
                        mql_at=None, sql_at=None, converted_at=None, account_id=a.id,
                        opportunity_id=None, _acct=a)
            if not outbound:
                self.pre_lead_touches(a, lead)
            lc = lead["created_at"]
            mql = lc + (signup_dt - lc) * self.u(0.1, 0.5)
            lead["mql_at"] = None if outbound else mql
            lead["sql_at"] = signup_dt
            lead["converted_at"] = signup_dt
            lead["status"] = "converted"
            self.leads.append(lead)
            t = signup_dt + timedelta(days=self.u(0, 5))
            for attempt in range(3):
                if t > self.end_dt:
                    break
                cyc = self.u(*p["cycle"])
                won = self.chance(p["p_win"] * (0.7 + 0.4 * a.health))
                close = t + timedelta(days=cyc if won else cyc * self.u(0.35, 1.0))
                mrr = self.initial_mrr(a)
                amount = round(12 * mrr * FX[a.currency], 2)
                o = self.make_opp(a, "new_business", t, close, won, amount)
                if o is None:
                    break
                if attempt == 0:
                    lead["_opp"] = o
                if o.closed is None:
                    break
                if o.is_won:
                    self.start_subscription(a, o.closed.date(), mrr, "new")
                    break
                t = o.closed + timedelta(days=self.u(60, 240))

    def pre_lead_touches(self, a: Account, lead: dict):
        """1-4 touches before the lead; the last one converts and names the lead's channel."""
        created = lead["created_at"]
        k = self.pick([1, 2, 3, 4], [0.35, 0.3, 0.2, 0.15])
        lo = max(self.start_dt, created - timedelta(days=60))
        times = sorted(lo + (created - lo) * self.rng.random() for _ in range(k))
        touches = []
        for t in times:
            ch, camp = self.choose_channel(t.date())
            touches.append((t, ch, camp))
        a.touch_list = getattr(a, "touch_list", []) + touches
        t, ch, camp = touches[-1]
        lead["created_at"] = max(created, t + timedelta(minutes=self.u(1, 30)))
        lead["channel"], lead["campaign_id"] = ch, camp
        if lead["lead_source"] == "inbound" and ch in LEAD_SOURCE:
            lead["lead_source"] = LEAD_SOURCE[ch]

    # -- touches ----------------------------------------------------------------------
    def gen_touchpoints(self):
        cfg, rng = self.cfg, self.rng
        rows = []
        for a in self.accounts:
            touches = list(getattr(a, "touch_list", []))
            outbound = a.lead_person is not None and a.motion == "sales_led" and not touches
            for o in a.opps:
                if self.chance(0.55 if outbound else 0.2) or \
                        (o.is_won and not touches and self.want("no_touch", 0.0)):
                    continue  # no marketing touch around this opportunity
                end = o.closed or self.end_dt
                lo = max(self.start_dt, o.created - timedelta(days=30))
                for _ in range(rng.randint(1, {"SMB": 3, "Mid-Market": 5, "Enterprise": 7}[a.segment])):
                    t = lo + (end - lo) * rng.random()
                    ch, camp = self.choose_channel(t.date())
                    touches.append((t, ch, camp))
            # newsletter / nurture touches while paying
            for s in a.subs:
                if s.is_addon:
                    continue
                d0 = max(s.start, cfg.start)
                d1 = min(s.end or cfg.end, cfg.end)
                n_months = max(0, (d1 - d0).days // 30)
                for _ in range(n_months):
                    if self.chance(0.08):
                        d = d0 + timedelta(days=rng.randrange(max(1, (d1 - d0).days)))
                        ch, camp = self.choose_channel(d)
                        touches.append((self.at_time(d, 6, 22), ch, camp))
            for (t, ch, camp) in touches:
                rows.append(dict(account_id=a.id, touched_at=t.replace(microsecond=0), channel=ch,
                                 campaign_id=camp, touch_type=TOUCH_TYPE[ch]))
        # ties: a second touch at the very same second
        extra = []
        for r in rows:
            if self.chance(0.004 * self.cfg.boost):
                ch, camp = self.choose_channel(r["touched_at"].date())
                extra.append(dict(account_id=r["account_id"], touched_at=r["touched_at"], channel=ch,
                                  campaign_id=camp, touch_type=TOUCH_TYPE[ch]))
                self.note("touchpoint timestamp ties")
        rows += extra
        for r in rows:
            r["_ch"] = r["channel"]
            if self.chance(0.02 * self.cfg.boost):
                r["channel"] = None
                self.note("touchpoints with null channel")
        rows.sort(key=lambda r: (r["touched_at"], r["account_id"], r["_ch"]))
        for i, r in enumerate(rows):
            r["id"] = i + 1
            del r["_ch"]
        self.tables["raw_touchpoints"] = rows
        self.touches_by_account = {}
        for r in rows:
            self.touches_by_account.setdefault(r["account_id"], []).append(r)

    # -- leads ------------------------------------------------------------------------
    def gen_leads(self):
        cfg, rng = self.cfg, self.rng
        leads = self.leads
        # unconverted leads (people who never became customers)
        n_unconv = round(len(leads) * cfg.unconverted_leads)
        days = [cfg.start + timedelta(days=i) for i in range(self.window_days)]
        cum = list(accumulate(1.0 + 2.0 * i / len(days) for i in range(len(days))))
        for k in range(n_unconv):
            d = rng.choices(days, cum_weights=cum)[0]
            t = self.at_time(d, 0, 24)
            ch, camp = self.choose_channel(d)
            src = LEAD_SOURCE.get(ch, "inbound")
            if self.chance(0.12):
                src, ch, camp = "outbound", "outbound", None
            lead = dict(email_hash=sha(f"prospect-{k}"), created_at=t, lead_source=src, channel=ch,
                        campaign_id=camp, status=self.pick(["new", "working", "nurture", "disqualified"],
                                                           [0.25, 0.15, 0.35, 0.25]),
                        mql_at=None, sql_at=None, converted_at=None, account_id=None, opportunity_id=None)
            if self.chance(0.28):
                lead["mql_at"] = t + timedelta(hours=self.u(1, 24 * 14))
                if self.chance(0.2):
                    lead["sql_at"] = lead["mql_at"] + timedelta(hours=self.u(4, 24 * 20))
                    lead["status"] = self.pick(["disqualified", "nurture", "working"])
            leads.append(lead)
        # converted sales-led leads point at their first opportunity
        for lead in leads:
            o = lead.pop("_opp", None)
            if o is not None:
                lead["_opp_obj"] = o
        # duplicates: same email_hash <= 30 days later
        dups = []
        for lead in list(leads):
            further = lead["sql_at"] is not None and lead.get("_opp_obj") is not None and \
                lead["sql_at"] - lead["created_at"] > timedelta(hours=6) and self.want("dup_further", 0.01)
            if further or self.chance(0.04 * cfg.boost):
                span = 29.5
                if further:
                    span = min(span, (lead["sql_at"] - lead["created_at"]).total_seconds() / 86400 * 0.9)
                t2 = lead["created_at"] + timedelta(days=self.u(0.1 * span, span))
                if t2 > self.end_dt:
                    continue
                ch, camp = self.choose_channel(t2.date())
                dup = dict(email_hash=lead["email_hash"], created_at=t2, lead_source=lead["lead_source"],
                           channel=ch, campaign_id=camp, status="new", mql_at=None, sql_at=None,
                           converted_at=None, account_id=None, opportunity_id=None)
                reached_sql = lead["sql_at"] is not None and lead["sql_at"] > t2
                if reached_sql and (further or self.chance(0.35)):
                    # the duplicate is the record sales worked: it carries SQL / conversion
                    for key in ("sql_at", "converted_at", "account_id", "_opp_obj"):
                        if key in lead:
                            dup[key] = lead[key]
                    dup["status"] = lead["status"]
                    dup["mql_at"] = lead["mql_at"] if lead["mql_at"] and lead["mql_at"] > t2 else None
                    lead["sql_at"] = lead["converted_at"] = lead["account_id"] = None
                    lead.pop("_opp_obj", None)
                    lead["status"] = "working"
                    self.note("duplicate leads that reached a further stage than the original")
                elif self.chance(0.3):
                    dup["mql_at"] = t2 + timedelta(hours=self.u(1, 48))
                    dup["status"] = "nurture"
                dups.append(dup)
                self.note("duplicate leads (same email_hash within 30 days)")
            elif self.chance(0.01 * cfg.boost):
                t2 = lead["created_at"] + timedelta(days=self.u(31, 120))
                if t2 <= self.end_dt:
                    ch, camp = self.choose_channel(t2.date())
                    dups.append(dict(email_hash=lead["email_hash"], created_at=t2, lead_source=lead["lead_source"],
                                     channel=ch, campaign_id=camp, status="nurture", mql_at=None,
                                     sql_at=None, converted_at=None, account_id=None, opportunity_id=None))
                    self.note("same email_hash 31-120 days later (not a duplicate)")
        leads += dups
        for lead in leads:
            if lead["sql_at"] is not None and lead["mql_at"] is not None and self.chance(0.03 * cfg.boost):
                lead["mql_at"] = None
                self.note("leads with sql_at but no mql_at")
            if lead["channel"] not in (None, "outbound") and self.chance(0.03 * cfg.boost):
                lead["channel"] = None
                self.note("leads with null channel")
            if self.chance(0.01 * cfg.boost):
                lead["email_hash"] = lead["email_hash"].upper()
                self.note("upper-case email hashes")
            lead.pop("_acct", None)
        leads.sort(key=lambda r: (r["created_at"], r["email_hash"].lower()))
        for i, lead in enumerate(leads):
            lead["id"] = i + 1
        self.tables["raw_leads"] = leads

    # -- users ------------------------------------------------------------------------
    def gen_users(self):
        cfg, rng = self.cfg, self.rng
        uid = 10001
        for a in self.accounts:
            # product usage intervals: trial + every main subscription
            usage = []
            if getattr(a, "trial", None):
                usage.append(a.trial)
            for s in a.subs:
                if not s.is_addon:
                    usage.append((s.start, s.end or cfg.end + timedelta(days=1)))
            usage.sort()
            merged = []
            for lo, hi in usage:
                if merged and lo <= merged[-1][1]:
                    merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
                else:
                    merged.append((lo, hi))
            a.usage = merged
            if not merged:
                continue
            first = merged[0][0]
            lo_u, hi_u = SEG[a.segment]["users"]
            paying = any(not s.is_addon for s in a.subs)
            n = rng.randint(lo_u, hi_u) if paying else rng.randint(1, 2)
            last_day = min(merged[-1][1] - timedelta(days=1), cfg.end)
            for j in range(n):
                if j == 0:
                    t = self.at_time(first)
                else:
                    d = first + timedelta(days=min((last_day - first).days, int(rng.expovariate(1 / 75))))
                    t = self.at_time(d)
                off = a.offset if self.chance(0.9) else self.pick(TZ_OFFSETS[self.pick(REGIONS)])
                deact = None
                if j > 0 and self.chance(0.06):
                    dd = t.date() + timedelta(days=rng.randint(30, 400))
                    if dd <= cfg.end:
                        deact = self.at_time(dd)
                email = sha(a.lead_person) if (j == 0 and a.lead_person) else sha(f"user-{uid}")
                role = "admin" if j == 0 else self.pick(["member", "viewer", "admin"], [0.7, 0.25, 0.05])
                a.users.append([uid, t, deact, off, email, role])
                uid += 1
        rows = []
        for a in self.accounts:
            for (u, t, deact, off, email, role) in a.users:
                rows.append(dict(id=u, account_id=a.id, email_hash=email, role=role,
                                 signed_up_at=t, deactivated_at=deact))
        self.tables["raw_users"] = rows

    def user_at(self, a: Account, t: datetime):
        ok = [u for u in a.users if u[1] <= t and (u[2] is None or u[2] > t)]
        return self.rng.choice(ok) if ok else None

    # -- product events ---------------------------------------------------------------
    def gen_events(self):
        cfg, rng = self.cfg, self.rng
        events = []  # (utc datetime, account_id, user_id, name, local string)
        feat_by_event = {f[1]: f for f in FEATURES}
        noncore_new = [f for f in FEATURES if f[2] > date(2022, 1, 1)]

        def emit(a, user, local_dt: datetime, name: str):
            off = user[3]
            utc = local_dt - timedelta(minutes=offset_minutes(off))
            if utc < self.start_dt or utc > self.end_dt or utc < user[1]:
                return
            if user[2] is not None and utc >= user[2]:
                return
            if name in feat_by_event and feat_by_event[name][2] > local_dt.date():
                return
            events.append((utc, a.id, user[0], name, local_dt.strftime("%Y-%m-%d %H:%M:%S") + off))

        def local_time(d: date) -> datetime:
            r = rng.random()
            if r < 0.70:
                sec = rng.randrange(8 * 3600, 18 * 3600)
            elif r < 0.95:
                sec = rng.randrange(18 * 3600, 24 * 3600)
            else:
                sec = rng.randrange(0, 8 * 3600)
            return datetime.combine(d, time()) + timedelta(seconds=sec)

        for a in self.accounts:
            if not a.users:
                continue
            h = a.health
            admin = a.users[0]
            # feature adoption dates for features released after 2022
            adopt = {}
            for f in noncore_new:
                if self.chance(0.25 + 0.5 * h):
                    base = max(f[2], a.usage[0][0])
                    adopt[f[1]] = base + timedelta(days=int(rng.expovariate(1 / 25)))
            # onboarding workflow at the start of every usage interval (funnel data)
            t0 = admin[1] + timedelta(hours=self.u(0.2, 30))  # UTC
            steps = [("Data Source Connected", 0.92, 0.5), ("Report Generated", 0.85, 2.0),
                     ("Dashboard Created", 0.78, 3.0), ("Dashboard Shared", 0.65, 4.0)]
            t = t0
            for name, pr, mean_days in steps:
                if not self.chance(pr):
                    break
                t = t + timedelta(days=rng.expovariate(1 / mean_days))
                emit(a, admin, t + timedelta(minutes=offset_minutes(admin[3])), name)
            # invitations of every later user
            for u in a.users[1:]:
                inv = u[1] - timedelta(minutes=self.u(1, 2 * 24 * 60))
                if inv >= admin[1]:
                    local = inv + timedelta(minutes=offset_minutes(admin[3]))
                    emit(a, admin, local, "User Invited")
            # sampled usage
            for lo, hi in a.usage:
                d0 = max(lo, cfg.start - timedelta(days=1))
                d1 = min(hi - timedelta(days=1), cfg.end + timedelta(days=1))
                if d1 < d0:
                    continue
                for m in months(d0, d1):
                    mdays = [d for d in (m + timedelta(days=i) for i in range(month_end(m).day)) if d0 <= d <= d1]
                    if not mdays:
                        continue
                    mend = datetime.combine(month_end(m), time(23, 59))
                    avail = [u for u in a.users if u[1] <= mend and (u[2] is None or u[2] > datetime.combine(m, time()))]
                    cap = {"SMB": 3, "Mid-Market": 5, "Enterprise": 8}[a.segment]
                    active = [u for u in avail if self.chance(0.2 + 0.55 * h)][:cap]
                    for u in active:
                        udays = [d for d in mdays if d >= u[1].date()]
                        if not udays:
                            continue
                        p_day = (0.015 + 0.07 * h) * cfg.event_rate
                        nd = 1 + sum(1 for _ in udays if self.chance(p_day))
                        for d in rng.sample(udays, min(nd, len(udays))):
                            lt = local_time(d)
                            emit(a, u, lt, "Session Started")
                            weights = dict(BASE_ACTIONS)
                            for ev, ad in adopt.items():
                                if ad <= d:
                                    weights[ev] = 1.2
                            names = list(weights)
                            for _ in range(rng.choice([0, 1, 1, 2, 2, 3])):
                                lt = lt + timedelta(seconds=rng.randint(20, 1800))
                                emit(a, u, lt, self.pick(names, [weights[x] for x in names]))
        events.sort(key=lambda e: (e[0], e[1], e[2], e[3]))
        rows = []
        for i, (utc, acc, user, name, local) in enumerate(events):
            row = dict(id=i + 1, account_id=acc, user_id=user, event_name=name, occurred_at=local)
            rows.append(row)
            if self.chance(0.003 * cfg.boost):
                rows.append(dict(row))
                self.note("product event exact duplicate rows")
            if local[:10] != utc.strftime("%Y-%m-%d"):
                self.note("events whose local date differs from the UTC date")
                if local[:7] != utc.strftime("%Y-%m"):
                    self.note("events whose local month differs from the UTC month")
        self.tables["raw_product_events"] = rows
        self.tables["raw_feature_releases"] = [
            dict(id=i + 1, feature_name=f[0], event_name=f[1], released_on=f[2], is_core=f[3])
            for i, f in enumerate(FEATURES)]

    # -- subscriptions, invoices, churn reasons ---------------------------------------
    def gen_billing(self):
        cfg, rng = self.cfg, self.rng
        subs = [s for a in self.accounts for s in a.subs]
        subs.sort(key=lambda s: (s.start, s.account_id, s.is_addon, s.mrr))
        for i, s in enumerate(subs):
            s.id = 70001 + i
        self.tables["raw_subscriptions"] = [
            dict(id=s.id, account_id=s.account_id, plan=s.plan, change_type=s.change_type,
                 start_date=s.start, end_date=s.end, end_reason=s.end_reason, mrr=s.mrr,
                 currency=s.currency) for s in sorted(subs, key=lambda s: s.id)]
        acct = {a.id: a for a in self.accounts}
        inv = []
        for s in sorted(subs, key=lambda s: s.id):
            a = acct[s.account_id]
            d = s.start
            stop = min(s.end or cfg.end + timedelta(days=1), cfg.end + timedelta(days=1))
            churn_dates = [cd for (_, cd) in a.churns]
            while d < stop:
                if d >= cfg.start:
                    due = d + timedelta(days=SEG[a.segment]["net"])
                    status, paid = "paid", None
                    near_churn = any(0 <= (cd - d).days <= 60 for cd in churn_dates)
                    if self.chance(0.004):
                        status = "void"
                    elif near_churn and self.chance(0.3):
                        status = "uncollectible"
                        self.note("uncollectible invoices")
                    elif due > cfg.end:
                        if self.chance(0.4):
                            paid = d + timedelta(days=rng.randint(0, (cfg.end - d).days))
                        else:
                            status = "open"
                    elif (cfg.end - due).days < 120 and self.chance((0.02 + 0.12 * (1 - a.health)) * cfg.boost):
                        status = "open"
                        self.note("overdue invoices")
                    else:
                        late = self.chance(0.12)
                        paid = d + timedelta(days=rng.randint(0, SEG[a.segment]["net"]) +
                                             (rng.randint(1, 40) if late else 0))
                        paid = min(paid, cfg.end)
                    inv.append(dict(account_id=a.id, subscription_id=s.id, invoice_date=d, due_date=due,
                                    amount=s.mrr, currency=s.currency, status=status, paid_on=paid))
                nd = add_months(d, 1)
                d = nd.replace(day=min(s.start.day, month_end(nd).day))
        inv.sort(key=lambda r: (r["invoice_date"], r["subscription_id"]))
        for i, r in enumerate(inv):
            r["id"] = 500001 + i
        self.tables["raw_invoices"] = inv
        reasons = []
        for a in self.accounts:
            for (s, d) in a.churns:
                if not self.chance(0.9):
                    self.note("churns without a churn reason")
                    continue
                reason = self.pick(*CHURN_REASONS)
                reasons.append(dict(account_id=a.id, subscription_id=s.id, churned_on=d, reason=reason,
                                    competitor=self.pick(COMPETITORS) if reason == "competitor" else None))
        reasons.sort(key=lambda r: (r["churned_on"], r["account_id"]))
        for i, r in enumerate(reasons):
            r["id"] = i + 1
        self.tables["raw_churn_reasons"] = reasons
        self.tables["raw_fx_rates"] = [dict(currency=c, rate_to_usd=r) for c, r in sorted(FX.items())]

    # -- opportunities, history, activities -------------------------------------------
    def gen_sales(self):
        cfg, rng = self.cfg, self.rng
        opps = [o for a in self.accounts for o in a.opps]
        opps.sort(key=lambda o: (o.created, o.account_id, o.otype))
        for i, o in enumerate(opps):
            o.id = 50001 + i
        self.opps = opps
        self.tables["raw_opportunities"] = [
            dict(id=o.id, account_id=o.account_id, owner_rep_id=o.owner, opportunity_name=o.name,
                 opportunity_type=o.otype, stage=o.history[-1][0], amount=o.amount,
                 created_at=o.created.replace(microsecond=0),
                 closed_at=o.closed.replace(microsecond=0) if o.closed else None,
                 is_closed=o.closed is not None, is_won=o.is_won) for o in opps]
        hist = []
        for o in opps:
            for (st, t, amt) in o.history:
                hist.append(dict(opportunity_id=o.id, stage=st, entered_at=t.replace(microsecond=0), amount=amt))
        for i, r in enumerate(hist):
            r["id"] = i + 1
        self.tables["raw_opportunity_stage_history"] = hist
        self.tables["raw_opportunity_stages"] = [
            dict(stage=s, stage_order=o, probability=p, is_closed=c, is_won=w) for (s, o, p, c, w) in STAGES]
        # leads -> opportunity ids
        for lead in self.tables["raw_leads"]:
            o = lead.pop("_opp_obj", None)
            lead["opportunity_id"] = o.id if o is not None else None
        # activities
        acts = []
        seg_of = {a.id: a.segment for a in self.accounts}
        for o in opps:
            end = o.closed or self.end_dt
            k = rng.randint(1, SEG[seg_of[o.account_id]]["acts"])
            for _ in range(k):
                t = o.created + (end - o.created) * rng.random()
                typ = self.pick(["call", "email", "meeting", "demo"], [0.35, 0.35, 0.2, 0.1])
                acts.append(dict(rep_id=o.owner, account_id=o.account_id, opportunity_id=o.id,
                                 activity_type=typ, activity_at=t.replace(microsecond=0),
                                 duration_minutes=None if typ == "email" else
                                 {"call": rng.randint(5, 45), "meeting": rng.randint(25, 60),
                                  "demo": rng.randint(40, 90)}[typ]))
        for a in self.accounts:  # prospecting before the first opportunity
            if a.opps and self.chance(0.5):
                first = min(o.created for o in a.opps)
                t = first - timedelta(days=self.u(1, 20))
                if t >= self.start_dt:
                    acts.append(dict(rep_id=a.opps[0].owner, account_id=a.id, opportunity_id=None,
                                     activity_type="email", activity_at=t.replace(microsecond=0),
                                     duration_minutes=None))
        acts.sort(key=lambda r: (r["activity_at"], r["account_id"]))
        for i, r in enumerate(acts):
            r["id"] = i + 1
        self.tables["raw_sales_activities"] = acts

    # -- quotas and forecasts ---------------------------------------------------------
    def gen_quotas_forecasts(self):
        cfg, rng = self.cfg, self.rng
        won_by_rep_month: dict[tuple[int, date], float] = {}
        for o in self.opps:
            if o.is_won:
                k = (o.owner, o.closed.date().replace(day=1))
                won_by_rep_month[k] = won_by_rep_month.get(k, 0.0) + o.amount
        quarters = sorted({quarter_start(m) for m in months(cfg.start, cfg.end)})
        # team baseline = mean won per active rep-quarter
        quotas = []
        for seg in SEGMENTS:
            team = [r for r in self.reps if r["team"] == seg]
            tot, n = 0.0, 0
            for r in team:
                for q in quarters:
                    if self.rep_active(r, q, q):
                        tot += sum(won_by_rep_month.get((r["id"], add_months(q, i)), 0.0) for i in range(3))
                        n += 1
            base = max(10000.0, round(1.15 * tot / max(1, n), -4))
            for r in team:
                for q in quarters:
                    qe = add_months(q, 3) - timedelta(days=1)
                    if r["hired_on"] <= qe and (r["terminated_on"] is None or r["terminated_on"] > q):
                        ramp = 0.5 if r["hired_on"] > q - timedelta(days=90) else 1.0
                        quotas.append(dict(rep_id=r["id"], quarter_start=q, quota_amount=round(base * ramp, 2)))
        for i, q in enumerate(quotas):
            q["id"] = i + 1
        self.tables["raw_rep_quotas"] = quotas
        subs = []
        for r in self.reps:
            bias = self.u(-0.15, 0.25)
            for m in months(cfg.start, cfg.end):
                if not self.rep_active(r, m, m):
                    continue
                actual = won_by_rep_month.get((r["id"], m), 0.0)
                skip_commit = self.chance(0.06 * cfg.boost)
                if skip_commit:
                    self.note("rep-months without a commit forecast")
                prev = add_months(m, -1)
                times = [self.at_time(prev.replace(day=rng.randint(8, 12))),
                         self.at_time(prev.replace(day=rng.randint(20, 26))),
                         self.at_time(m.replace(day=rng.randint(5, 10)))]
                if self.chance(0.03 * cfg.boost):
                    times[2] = datetime.combine(m, time())  # exactly at the month start
                    self.note("forecast submissions at exactly the month start")
                for j, t in enumerate(times):
                    if t < self.start_dt or t > self.end_dt:
                        continue
                    noise = math.exp(rng.gauss(bias, 0.35 - 0.08 * j))
                    commit = actual * noise if actual > 0 else self.u(0, 1) * 20000 * (0 if self.chance(0.3) else 1)
                    commit = round(commit, -2)
                    best = round(commit * self.u(1.2, 1.6) + self.u(0, 10000), -2)
                    pipe = round(best * self.u(1.3, 2.0), -2)
                    for cat, amt in (("commit", commit), ("best_case", best), ("pipeline", pipe)):
                        if cat == "commit" and skip_commit:
                            continue
                        subs.append(dict(rep_id=r["id"], submitted_at=t, forecast_month=m, category=cat, amount=amt))
        subs.sort(key=lambda r: (r["submitted_at"], r["rep_id"]))
        for i, r in enumerate(subs):
            r["id"] = i + 1
        self.tables["raw_forecast_submissions"] = subs
        self.tables["raw_reps"] = self.reps
        self.won_by_rep_month = won_by_rep_month

    # -- support & NPS ----------------------------------------------------------------
    def gen_support(self):
        cfg, rng = self.cfg, self.rng
        tickets, nps = [], []
        for a in self.accounts:
            if not a.users:
                continue
            for lo, hi in a.usage:
                for m in months(max(lo, cfg.start), min(hi - timedelta(days=1), cfg.end)):
                    lam = SEG[a.segment]["tickets"] * (1.5 - 0.8 * a.health)
                    n = sum(1 for _ in range(6) if self.chance(lam / 6))
                    for _ in range(n):
                        d0 = max(m, lo, cfg.start)
                        d1 = min(month_end(m), hi - timedelta(days=1), cfg.end)
                        if d1 < d0:
                            continue
                        t = self.at_time(d0 + timedelta(days=rng.randrange((d1 - d0).days + 1)), 0, 24)
                        u = self.user_at(a, t)
                        if u is None:
                            continue
                        pr = self.pick(["low", "normal", "high", "urgent"], [0.35, 0.4, 0.2, 0.05])
                        res = t + timedelta(hours=rng.expovariate(1 / {"low": 60, "normal": 36, "high": 14, "urgent": 5}[pr]))
                        stuck = self.chance(0.03)
                        if res > self.end_dt or stuck:
                            res, status = None, self.pick(["open", "pending"])
                        else:
                            status = "solved"
                        csat = None
                        if status == "solved" and self.chance(0.55):
                            good = 0.45 + 0.5 * a.health - (0.15 if pr in ("high", "urgent") else 0)
                            csat = self.pick([5, 4, 3, 2, 1], [good * 0.6, good * 0.4, 0.15, 0.3 * (1 - good), 0.3 * (1 - good)])
                        tickets.append(dict(account_id=a.id, user_id=u[0], created_at=t, resolved_at=res,
                                            priority=pr, status=status,
                                            category=self.pick(["billing", "bug", "how_to", "feature_request", "integration"],
                                                               [0.15, 0.3, 0.3, 0.15, 0.1]),
                                            csat_score=csat))
                for q in sorted({quarter_start(m) for m in months(max(lo, cfg.start), min(hi - timedelta(days=1), cfg.end))}):
                    if not self.chance(0.35):
                        continue
                    d0 = max(q + timedelta(days=14), lo, cfg.start)
                    d1 = min(q + timedelta(days=40), hi - timedelta(days=1), cfg.end)
                    if d1 < d0:
                        continue
                    t = self.at_time(d0 + timedelta(days=rng.randrange((d1 - d0).days + 1)))
                    u = self.user_at(a, t)
                    if u is None:
                        continue
                    h = a.health
                    kind = self.pick(["p", "n", "d"], [0.15 + 0.6 * h, 0.3, 0.55 - 0.5 * h])
                    score = {"p": rng.randint(9, 10), "n": rng.randint(7, 8), "d": rng.randint(0, 6)}[kind]
                    nps.append(dict(account_id=a.id, user_id=u[0], responded_at=t, score=score))
        tickets.sort(key=lambda r: (r["created_at"], r["account_id"]))
        for i, r in enumerate(tickets):
            r["id"] = 90001 + i
        nps.sort(key=lambda r: (r["responded_at"], r["account_id"]))
        for i, r in enumerate(nps):
            r["id"] = i + 1
        self.tables["raw_support_tickets"] = tickets
        self.tables["raw_nps_responses"] = nps

    # -- expenses ---------------------------------------------------------------------
    def gen_expenses(self):
        cfg, rng = self.cfg, self.rng
        camp_ch = {c["id"]: c["channel"] for c in self.campaigns}
        media: dict[tuple[date, str], float] = {}
        seen = set()
        for r in self.tables["raw_campaign_daily"]:
            key = (r["campaign_id"], r["report_date"])
            if key in seen:
                continue  # duplicates are not real spend
            seen.add(key)
            k = (r["report_date"].replace(day=1), camp_ch[r["campaign_id"]])
            media[k] = media.get(k, 0.0) + r["spend"]
        programs = {"organic_search": 14000.0, "referral": 3500.0, "events": 6000.0,
                    "webinar": 2500.0, "partner": 3000.0, "email": 1500.0}
        won_seg: dict[tuple[date, str], float] = {}
        seg_of = {a.id: a.segment for a in self.accounts}
        for o in self.opps:
            if o.is_won:
                k = (o.closed.date().replace(day=1), seg_of[o.account_id])
                won_seg[k] = won_seg.get(k, 0.0) + o.amount
        rows = []
        for m in months(cfg.start, cfg.end):
            for ch in PAID_CHANNELS:
                if (m, ch) in media:
                    rows.append(dict(expense_month=m, department="marketing", channel=ch, segment=None,
                                     category="media", amount=round(media[(m, ch)], 2)))
            for ch, amt in programs.items():
                rows.append(dict(expense_month=m, department="marketing", channel=ch, segment=None,
                                 category="programs", amount=round(amt * cfg.money_scale * self.u(0.8, 1.2), 2)))
            for seg in SEGMENTS:
                n_reps = sum(1 for r in self.reps if r["team"] == seg and self.rep_active(r, m, m))
                rows.append(dict(expense_month=m, department="sales", channel=None, segment=seg,
                                 category="salaries", amount=round(n_reps * SEG[seg]["rep_cost"] * self.u(0.97, 1.03), 2)))
                rows.append(dict(expense_month=m, department="sales", channel=None, segment=seg,
                                 category="commissions", amount=round(0.10 * won_seg.get((m, seg), 0.0), 2)))
        for i, r in enumerate(rows):
            r["id"] = i + 1
        self.tables["raw_sm_expenses"] = rows

    # -- accounts table (last: owner and messy spellings) -----------------------------
    def gen_account_rows(self):
        rows = []
        for a in self.accounts:
            seg = a.segment
            if self.want("segment_variant", 0.02):
                seg = self.pick(SEGMENT_VARIANTS[a.segment])
                self.note("segment spelling variants")
            cur = a.currency
            if self.chance(0.01 * self.cfg.boost):
                cur = cur.lower()
                self.note("lower-case billing currencies")
            rows.append(dict(id=a.id, account_name=a.name, segment=seg, tier=a.tier, industry=a.industry,
                             region=a.region, country=a.country, billing_currency=cur, signup_date=a.signup,
                             acquisition_motion=a.motion, owner_rep_id=a.owner))
        self.tables["raw_accounts"] = rows

    def run(self):
        self.gen_reps()
        self.gen_campaigns()
        self.gen_accounts()
        self.gen_lifecycles()
        self.gen_touchpoints()
        self.gen_leads()
        self.gen_users()
        self.gen_billing()
        self.gen_sales()
        self.gen_quotas_forecasts()
        self.gen_support()
        self.gen_events()
        self.gen_expenses()
        self.gen_account_rows()
        self.count_messy()
        return self.tables

    def count_messy(self):
        for o in self.opps:
            if o.is_won:
                tp = self.touches_by_account.get(o.account_id, [])
                lo = o.created - timedelta(days=90)
                if not any(lo <= t["touched_at"] <= o.closed for t in tp):
                    self.note("won opportunities with no eligible touch (90-day lookback)")


# --------------------------------------------------------------------------------------
# Checks, summary, output
# --------------------------------------------------------------------------------------
FKS = [  # (table, column, parent table, parent column)
    ("raw_accounts", "owner_rep_id", "raw_reps", "id"),
    ("raw_users", "account_id", "raw_accounts", "id"),
    ("raw_campaign_daily", "campaign_id", "raw_campaigns", "id"),
    ("raw_leads", "campaign_id", "raw_campaigns", "id"),
    ("raw_leads", "account_id", "raw_accounts", "id"),
    ("raw_leads", "opportunity_id", "raw_opportunities", "id"),
    ("raw_touchpoints", "account_id", "raw_accounts", "id"),
    ("raw_touchpoints", "campaign_id", "raw_campaigns", "id"),
    ("raw_opportunities", "account_id", "raw_accounts", "id"),
    ("raw_opportunities", "owner_rep_id", "raw_reps", "id"),
    ("raw_opportunities", "stage", "raw_opportunity_stages", "stage"),
    ("raw_opportunity_stage_history", "opportunity_id", "raw_opportunities", "id"),
    ("raw_opportunity_stage_history", "stage", "raw_opportunity_stages", "stage"),
    ("raw_rep_quotas", "rep_id", "raw_reps", "id"),
    ("raw_forecast_submissions", "rep_id", "raw_reps", "id"),
    ("raw_sales_activities", "rep_id", "raw_reps", "id"),
    ("raw_sales_activities", "account_id", "raw_accounts", "id"),
    ("raw_sales_activities", "opportunity_id", "raw_opportunities", "id"),
    ("raw_subscriptions", "account_id", "raw_accounts", "id"),
    ("raw_subscriptions", "currency", "raw_fx_rates", "currency"),
    ("raw_invoices", "account_id", "raw_accounts", "id"),
    ("raw_invoices", "subscription_id", "raw_subscriptions", "id"),
    ("raw_invoices", "currency", "raw_fx_rates", "currency"),
    ("raw_support_tickets", "account_id", "raw_accounts", "id"),
    ("raw_support_tickets", "user_id", "raw_users", "id"),
    ("raw_nps_responses", "account_id", "raw_accounts", "id"),
    ("raw_nps_responses", "user_id", "raw_users", "id"),
    ("raw_churn_reasons", "account_id", "raw_accounts", "id"),
    ("raw_churn_reasons", "subscription_id", "raw_subscriptions", "id"),
    ("raw_product_events", "account_id", "raw_accounts", "id"),
    ("raw_product_events", "user_id", "raw_users", "id"),
]
UNIQUE = {t: "id" for t in SCHEMA}
UNIQUE.update({"raw_fx_rates": "currency", "raw_opportunity_stages": "stage"})
EXACT_DUPLICATES_ALLOWED = {"raw_product_events", "raw_campaign_daily"}


def check(tables: dict[str, list[dict]]):
    errors = []
    for t, (_, cols) in SCHEMA.items():
        names = [c[0] for c in cols]
        want = sorted(names)
        for r in tables[t]:
            if sorted(r) != want:
                errors.append(f"{t}: columns {sorted(r)} != schema {want}")
                break
    for t, col in UNIQUE.items():
        if t == "raw_campaign_daily":
            continue
        seen = {}
        for r in tables[t]:
            k = r[col]
            if k in seen and not (t in EXACT_DUPLICATES_ALLOWED and seen[k] == r):
                errors.append(f"{t}.{col} not unique: {k}")
                break
            seen[k] = r
    keys = {}
    for t, col, p, pcol in FKS:
        parent = keys.setdefault((p, pcol), {r[pcol] for r in tables[p]})
        for r in tables[t]:
            v = r[col]
            if v is None:
                continue
            if isinstance(v, str) and pcol == "currency":
                v = v.upper()
            if v not in parent:
                errors.append(f"{t}.{col} = {v!r} not in {p}.{pcol}")
                break
    # users on events / tickets / nps belong to the row's account
    uacc = {u["id"]: u["account_id"] for u in tables["raw_users"]}
    for t in ("raw_product_events", "raw_support_tickets", "raw_nps_responses"):
        bad = [r for r in tables[t] if uacc.get(r["user_id"]) != r["account_id"]]
        if bad:
            errors.append(f"{t}: user not of the row's account, e.g. {bad[0]}")
    released = {f["event_name"]: f["released_on"] for f in tables["raw_feature_releases"]}
    for e in tables["raw_product_events"]:
        rel = released.get(e["event_name"])
        if e["event_name"] != "Session Started" and rel is None:
            errors.append(f"event name {e['event_name']!r} is no feature")
            break
        if rel is not None and e["occurred_at"][:10] < rel.isoformat():
            errors.append(f"event {e['id']} uses {e['event_name']!r} before its release")
            break
    acur = {a["id"]: a["billing_currency"].upper() for a in tables["raw_accounts"]}
    for s in tables["raw_subscriptions"]:
        if s["currency"] != acur[s["account_id"]]:
            errors.append(f"subscription {s['id']} currency != account currency")
            break
        if s["end_date"] is not None and s["end_date"] <= s["start_date"]:
            errors.append(f"subscription {s['id']} ends before it starts")
            break
    for o in tables["raw_opportunities"]:
        if o["closed_at"] is not None and o["closed_at"] < o["created_at"]:
            errors.append(f"opportunity {o['id']} closes before creation")
            break
    for lead in tables["raw_leads"]:
        if (lead["mql_at"] and lead["mql_at"] < lead["created_at"]) or \
           (lead["sql_at"] and lead["sql_at"] < lead["created_at"]):
            errors.append(f"lead {lead['id']} stage before creation")
            break
    if errors:
        raise SystemExit("integrity check failed:\n  " + "\n  ".join(errors[:20]))


def fmt_value(v, typ):
    if v is None:
        return ""
    if typ == "boolean":
        return fmt_bool(v)
    if typ == "date":
        return fmt_d(v)
    if typ == "timestamp":
        return fmt_ts(v)
    if typ == "double":
        return f"{v:.2f}" if round(v, 2) == v else repr(float(v))
    return str(v)


def write_tables(tables, out):
    os.makedirs(out, exist_ok=True)
    sizes = {}
    for t, (_, cols) in SCHEMA.items():
        path = os.path.join(out, f"{t}.csv")
        with open(path, "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow([c[0] for c in cols])
            for r in tables[t]:
                w.writerow([fmt_value(r[c], typ) for c, typ, _ in cols])
        sizes[t] = os.path.getsize(path)
    return sizes


def write_seeds_yml(out):
    def q(s):
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
    lines = ["# Generated by scripts/gen_seeds.py -- edit SCHEMA there, not this file.",
             "version: 2", "", "seeds:"]
    for t, (desc, cols) in SCHEMA.items():
        lines.append(f"  - name: {t}")
        lines.append(f"    description: {q(desc)}")
        lines.append("    config:")
        lines.append("      column_types:")
        for c, typ, _ in cols:
            lines.append(f"        {c}: {typ}")
        lines.append("    columns:")
        for c, typ, cd in cols:
            lines.append(f"      - name: {c}")
            lines.append(f"        description: {q(cd)}")
    with open(os.path.join(out, "_seeds.yml"), "w", newline="\n") as f:
        f.write("\n".join(lines) + "\n")


def summary(g: Generator, sizes: dict[str, int], out: str):
    cfg, t = g.cfg, g.tables
    print(f"gen_seeds: {cfg.start} .. {cfg.end}, {len(t['raw_accounts'])} accounts -> {out}")
    total = 0
    for name in SCHEMA:
        total += sizes[name]
        print(f"  {name + '.csv':38s} {len(t[name]):>8d} rows {sizes[name] / 1024:>9.1f} KiB")
    print(f"  {'total':38s} {'':>8s}      {total / 1024 / 1024:>9.2f} MiB")
    # month-end MRR (USD) per account
    subs = t["raw_subscriptions"]
    ms = list(months(cfg.start, cfg.end))
    mrr = {}
    for m in [add_months(ms[0], -1)] + ms:
        me = month_end(m)
        per = {}
        for s in subs:
            if s["start_date"] <= me and (s["end_date"] is None or s["end_date"] > me):
                per[s["account_id"]] = per.get(s["account_id"], 0.0) + s["mrr"] * FX[s["currency"]]
        mrr[m] = per
    churn_rates = []
    for i, m in enumerate(ms):
        prev = mrr[add_months(m, -1)]
        cur = mrr[m]
        if prev:
            churned = sum(1 for a in prev if a not in cur)
            churn_rates.append(churned / len(prev))
    first, last = mrr[ms[0]], mrr[ms[-1]]
    won = [o for o in t["raw_opportunities"] if o["is_won"]]
    closed = [o for o in t["raw_opportunities"] if o["is_closed"]]
    nb = [o for o in closed if o["opportunity_type"] == "new_business"]
    print(f"  MRR (USD) end of {ms[0]:%Y-%m}: {sum(first.values()):,.0f} ({len(first)} paying)"
          f" -> end of {ms[-1]:%Y-%m}: {sum(last.values()):,.0f} ({len(last)} paying)")
    if churn_rates:
        print(f"  monthly logo churn: mean {100 * sum(churn_rates) / len(churn_rates):.2f}%, "
              f"min {100 * min(churn_rates):.2f}%, max {100 * max(churn_rates):.2f}%")
    if closed:
        print(f"  win rate (count): {100 * len(won) / len(closed):.1f}% overall, "
              f"{100 * sum(o['is_won'] for o in nb) / max(1, len(nb)):.1f}% new business; "
              f"open opportunities {len(t['raw_opportunities']) - len(closed)}")
    spend = sum(r["amount"] for r in t["raw_sm_expenses"])
    print(f"  S&M expense: {spend:,.0f} USD over {len(ms)} months")
    print("  messy cases:")
    for k in sorted(g.messy):
        print(f"    {k}: {g.messy[k]}")


REQUIRED_MESSY = [
    "duplicate leads (same email_hash within 30 days)", "duplicate leads that reached a further stage than the original",
    "reopened opportunities", "open opportunities at the end", "subscriptions starting and ending in one month",
    "reactivations", "product event exact duplicate rows", "campaign_daily exact duplicate rows",
    "events whose local date differs from the UTC date", "touchpoints with null channel", "leads with null channel",
    "segment spelling variants", "rep-months without a commit forecast", "overdue invoices",
    "won opportunities with no eligible touch (90-day lookback)", "campaign_daily zero-impression days",
]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=None, help="output directory (default: seeds/ at the repo root)")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply the account count (benchmarks)")
    ap.add_argument("--tiny", action="store_true", help="~20 accounts over 6 months, for fast tests")
    ap.add_argument("--quiet", action="store_true", help="print nothing")
    args = ap.parse_args(argv)
    out = args.out or os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "seeds")
    cfg = tiny_config() if args.tiny else full_config(args.scale)
    g = Generator(cfg)
    tables = g.run()
    check(tables)
    missing = [k for k in REQUIRED_MESSY if not g.messy.get(k)]
    if missing and (args.tiny or args.scale >= 1.0):
        raise SystemExit(f"messy cases missing from the data: {missing}")
    sizes = write_tables(tables, out)
    write_seeds_yml(out)
    if not args.quiet:
        summary(g, sizes, out)


if __name__ == "__main__":
    main()
