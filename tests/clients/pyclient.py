"""pyclient - produces or consumes the plugin's test data set with
confluent-kafka (the PyPI wheel or Debian's package, whichever interpreter
runs it), audited by the interceptor plugin through configuration alone
(tests/integration/test_plugin_clients.c).

    pyclient.py produce BROKERS TOPIC PLUGIN AUDIT TIER N T0
    pyclient.py consume BROKERS TOPIC PLUGIN AUDIT TIER N GROUP
    pyclient.py abandon BROKERS TOPIC PLUGIN AUDIT TIER N AUDIT_BROKERS

Message i carries event time T0 + (i%3)*600 + i%600 seconds (3 buckets).
Prints the number of messages delivered or consumed; exits 1 on error.
"""
import sys
import time

from confluent_kafka import Consumer, KafkaException, Producer


def produce(conf, topic, n, t0):
    conf["linger.ms"] = 5
    p = Producer(conf)
    result = {"ok": 0, "failed": 0}

    def dr(err, msg):
        result["failed" if err else "ok"] += 1

    for i in range(n):
        ts = t0 + (i % 3) * 600 + i % 600
        val = '{"ts":%d,"id":%d,"client":"python"}' % (ts, i)
        while True:
            try:
                p.produce(topic, val.encode(), str(i).encode(), callback=dr)
                break
            except BufferError:
                p.poll(0.05)
        p.poll(0)
    left = p.flush(60)
    del p  # rd_kafka_destroy: the plugin publishes its last counts
    print(result["ok"])
    if left or result["failed"] or result["ok"] != n:
        print("pyclient: %d delivered, %d failed, %d left"
              % (result["ok"], result["failed"], left), file=sys.stderr)
        return 1
    return 0


def abandon(conf, topic, n, audit_brokers):
    """Produces n messages (event time T0 = 1478311200) to brokers that
    never answer and drops the producer without flush(), as a service
    garbage-collecting its producer while the cluster is away; the audit
    goes to audit_brokers."""
    conf["chaperone.bootstrap.servers"] = audit_brokers
    conf["message.timeout.ms"] = 600000
    p = Producer(conf)
    for i in range(n):
        p.produce(topic, ('{"ts":1478311200,"id":%d}' % i).encode())
    p.poll(0.5)
    print(len(p))
    del p  # no flush: librdkafka fails what is queued, the plugin counts it
    return 0


def consume(conf, topic, n, group):
    conf.update({"group.id": group, "auto.offset.reset": "earliest"})
    c = Consumer(conf)
    c.subscribe([topic])
    got = 0
    deadline = time.monotonic() + 120
    while got < n and time.monotonic() < deadline:
        m = c.poll(0.2)
        if m is not None and not m.error():
            got += 1
    c.close()
    del c
    print(got)
    return 0 if got == n else 1


def main(argv):
    if len(argv) != 9:
        print(__doc__, file=sys.stderr)
        return 2
    mode, brokers, topic, plugin, audit, tier, n, last = argv[1:]
    # plugin.library.paths first: the chaperone.* keys exist once it is
    # loaded (dicts keep insertion order).
    conf = {"bootstrap.servers": brokers,
            "plugin.library.paths": plugin,
            "chaperone.audit.topic": audit,
            "chaperone.tier": tier,
            "chaperone.report.interval.ms": "1000"}
    try:
        if mode == "produce":
            return produce(conf, topic, int(n), int(last))
        if mode == "consume":
            return consume(conf, topic, int(n), last)
        if mode == "abandon":
            return abandon(conf, topic, int(n), last)
    except KafkaException as e:
        print("pyclient: %s" % e, file=sys.stderr)
        return 1
    print("pyclient: unknown mode %s" % mode, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
