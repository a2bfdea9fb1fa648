"""``storehub worker``: the scaled mode's pipelines, a faust-streaming app on the Kafka event stream.

The hub nodes' outbox relays publish every committed event to the ``storehub.events`` topic, keyed by
tenant (``hub.events.kafka_stream``). The worker consumes it, partition by partition, and runs the same code
the embedded hub runs in-process: the fiscal pipeline (``hub.fiscal.FiscalService``), the dashboard's
aggregates (``actors.dashboard_load.count_event`` over a faust Table) and the low-stock alerts that are part
of them. See ``hub.worker.app``.
"""
