// goclient - produces or consumes the plugin's test data set with
// confluent-kafka-go, audited by the interceptor plugin through its
// configuration alone (tests/integration/test_plugin_clients.c).
//
//	goclient produce BROKERS TOPIC PLUGIN AUDIT TIER N T0
//	goclient consume BROKERS TOPIC PLUGIN AUDIT TIER N GROUP
//
// Message i carries event time T0 + (i%3)*600 + i%600 seconds (3 buckets).
// Prints the number of messages delivered or consumed; exits 1 on error.
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

func fail(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "goclient: "+format+"\n", a...)
	os.Exit(1)
}

func main() {
	if len(os.Args) != 9 {
		fail("usage: goclient produce|consume BROKERS TOPIC PLUGIN AUDIT TIER N T0|GROUP")
	}
	mode, brokers, topic, plugin, audit, tier := os.Args[1], os.Args[2],
		os.Args[3], os.Args[4], os.Args[5], os.Args[6]
	n, err := strconv.Atoi(os.Args[7])
	if err != nil {
		fail("bad N: %v", err)
	}
	conf := kafka.ConfigMap{
		"bootstrap.servers":            brokers,
		"plugin.library.paths":         plugin,
		"chaperone.audit.topic":        audit,
		"chaperone.tier":               tier,
		"chaperone.report.interval.ms": "1000",
	}
	switch mode {
	case "produce":
		t0, err := strconv.ParseInt(os.Args[8], 10, 64)
		if err != nil {
			fail("bad T0: %v", err)
		}
		os.Exit(produce(conf, topic, n, t0))
	case "consume":
		os.Exit(consume(conf, topic, n, os.Args[8]))
	}
	fail("unknown mode %s", mode)
}

func produce(conf kafka.ConfigMap, topic string, n int, t0 int64) int {
	conf["linger.ms"] = 5
	p, err := kafka.NewProducer(&conf)
	if err != nil {
		fail("NewProducer: %v", err)
	}
	delivered, failed := 0, 0
	done := make(chan bool)
	go func() {
		for e := range p.Events() {
			if m, ok := e.(*kafka.Message); ok {
				if m.TopicPartition.Error != nil {
					failed++
				} else {
					delivered++
				}
			}
		}
		done <- true
	}()
	for i := 0; i < n; i++ {
		ts := t0 + int64(i%3)*600 + int64(i%600)
		val := fmt.Sprintf(`{"ts":%d,"id":%d,"client":"go"}`, ts, i)
		for {
			err = p.Produce(&kafka.Message{
				TopicPartition: kafka.TopicPartition{Topic: &topic,
					Partition: kafka.PartitionAny},
				Key:   []byte(strconv.Itoa(i)),
				Value: []byte(val)}, nil)
			if err == nil {
				break
			}
			if e, ok := err.(kafka.Error); ok && e.Code() == kafka.ErrQueueFull {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			fail("Produce: %v", err)
		}
	}
	left := p.Flush(60000)
	p.Close() // the plugin publishes its last counts here
	<-done
	fmt.Println(delivered)
	if left != 0 || failed != 0 || delivered != n {
		fmt.Fprintf(os.Stderr, "goclient: %d delivered, %d failed, %d left\n",
			delivered, failed, left)
		return 1
	}
	return 0
}

func consume(conf kafka.ConfigMap, topic string, n int, group string) int {
	conf["group.id"] = group
	conf["auto.offset.reset"] = "earliest"
	c, err := kafka.NewConsumer(&conf)
	if err != nil {
		fail("NewConsumer: %v", err)
	}
	if err = c.SubscribeTopics([]string{topic}, nil); err != nil {
		fail("Subscribe: %v", err)
	}
	got := 0
	deadline := time.Now().Add(120 * time.Second)
	for got < n && time.Now().Before(deadline) {
		ev := c.Poll(200)
		if m, ok := ev.(*kafka.Message); ok && m.TopicPartition.Error == nil {
			got++
		}
	}
	c.Close()
	fmt.Println(got)
	if got != n {
		return 1
	}
	return 0
}
