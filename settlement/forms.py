"""The program manager's form for how a program's events are measured and paid."""

from django import forms

from settlement.models import SettlementRules

FIELDSETS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "Pay",
        (
            "kw_season_rate",
            "kwh_rate",
            "participation_rate",
            "participation_period",
            "upfront_rate",
            "commitment_months",
            "rounding",
        ),
    ),
    (
        "Performance",
        ("performance_factor_cap", "min_performance_factor"),
    ),
    (
        "Measurement",
        (
            "baseline_method",
            "meter_before_minutes",
            "ten_in_ten_adjust",
            "min_coverage_pct",
            "offline_after_s",
        ),
    ),
    (
        "When data is missing",
        ("on_missing_intervals", "on_stale", "on_opt_out", "on_offline"),
    ),
)


class SettlementRulesForm(forms.ModelForm):
    """Payment rates and measurement rules, grouped as a person reads them."""

    class Meta:
        model = SettlementRules
        fields = [name for _, names in FIELDSETS for name in names]
        labels = {
            "kw_season_rate": "Performance ($ per kW-season)",
            "kwh_rate": "Energy ($ per kWh delivered)",
            "participation_rate": "Participation ($ per kW committed)",
            "participation_period": "Participation paid per",
            "upfront_rate": "Upfront ($ per kW committed, once)",
            "commitment_months": "Commitment (months)",
            "rounding": "Rounding of each line",
            "performance_factor_cap": "Performance factor cap",
            "min_performance_factor": "Minimum performance factor",
            "baseline_method": "Baseline",
            "meter_before_minutes": "Meter baseline window (minutes before)",
            "ten_in_ten_adjust": "Adjust the 10-in-10 baseline",
            "min_coverage_pct": "Minimum telemetry coverage (%)",
            "offline_after_s": "Offline after silence (seconds)",
            "on_missing_intervals": "Missing intervals",
            "on_stale": "Stale data",
            "on_opt_out": "Opted out",
            "on_offline": "Offline",
        }

    def grouped(self):
        """[(title, [bound fields])] for the template."""
        return [(title, [self[name] for name in names]) for title, names in FIELDSETS]
