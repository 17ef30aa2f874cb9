"""Prometheus metrics: one registry per app, so tests and several apps in one process never collide."""
from __future__ import annotations

from typing import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.http_requests = Counter("bot_http_requests_total", "HTTP requests answered",
                                     ["method", "route", "status"], registry=r)
        self.http_latency = Histogram("bot_http_request_seconds", "HTTP request latency (until the handler returns)",
                                      ["method", "route"], registry=r,
                                      buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30))
        self.model_first_token = Histogram("bot_model_first_token_seconds", "Time to the model's first token",
                                           ["model"], registry=r)
        self.model_duration = Histogram("bot_model_stream_seconds", "Duration of a model stream", ["model"],
                                        registry=r, buckets=(.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120))
        self.model_tokens = Counter("bot_model_tokens_total", "Tokens reported by the model provider",
                                    ["model", "kind"], registry=r)
        self.model_errors = Counter("bot_model_errors_total", "Failed model calls", ["model", "reason"], registry=r)
        self.queue_depth = Gauge("bot_queue_depth", "Work waiting in a queue", ["queue"], registry=r)
        self.errors = Counter("bot_errors_total", "Errors answered to users", ["source", "reason"], registry=r)
        self.llm_retries = Counter("bot_llm_retries_total", "Model calls retried before their first token",
                                   ["provider", "reason"], registry=r)
        self.llm_failovers = Counter("bot_llm_failovers_total", "Replies moved to a fallback provider",
                                     ["from_provider", "to_provider"], registry=r)
        self.llm_breaker_state = Gauge("bot_llm_breaker_state", "A provider's circuit breaker: 0 closed, "
                                       "1 half-open, 2 open", ["provider"], registry=r)

    def track_queue(self, name: str, depth: Callable[[], float]) -> None:
        """Report a queue's current depth at every scrape."""
        self.queue_depth.labels(name).set_function(depth)
