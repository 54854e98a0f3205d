from django.urls import path

from portal.consumers import UtilityTopicConsumer

websocket_urlpatterns = [
    path("ws/utility/<int:utility_id>/<str:topic>/", UtilityTopicConsumer.as_asgi()),
]
