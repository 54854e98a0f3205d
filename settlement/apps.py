from django.apps import AppConfig


class SettlementConfig(AppConfig):
    name = "settlement"

    def ready(self):
        from programs.signals import event_changed
        from settlement.signals import on_event_changed

        event_changed.connect(on_event_changed, dispatch_uid="settlement.reconcile_on_complete")
