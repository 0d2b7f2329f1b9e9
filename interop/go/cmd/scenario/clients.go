package main

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
)

// waitGuard bounds every wait for deliveries or callbacks; a wait ends as
// soon as its condition holds, so this is only a hang guard.
const waitGuard = 90 * time.Second

// sendTimeout is generous so that a slow machine is not a failure.
const sendTimeout = 15 * time.Second

var nameSeq atomic.Int64

// uniqueName is prefix plus this process's id, the time and a sequence
// number: topics and groups never collide with an earlier run's.
func uniqueName(prefix string) string {
	return fmt.Sprintf("%s_%d_%d_%d", prefix, os.Getpid(), time.Now().UnixMilli(), nameSeq.Add(1))
}

// resolver points a client at the nameserver under test.
func resolver(namesrv string) primitive.NsResolver {
	return primitive.NewPassthroughResolver([]string{namesrv})
}

// startProducer starts a producer of a fresh group.
func startProducer(c *check, namesrv string) rocketmq.Producer {
	p, err := rocketmq.NewProducer(
		producer.WithNsResolver(resolver(namesrv)),
		producer.WithGroupName(uniqueName("GoProducer")),
		producer.WithRetry(2),
		producer.WithSendMsgTimeout(sendTimeout),
	)
	c.noErr(err, "create producer")
	c.noErr(p.Start(), "start producer")
	return p
}

// shutdownAll stops clients in reverse order, failing on an error.
func shutdownAll(c *check, clients ...interface{ Shutdown() error }) {
	for i := len(clients) - 1; i >= 0; i-- {
		if err := clients[i].Shutdown(); err != nil {
			c.fail("shutdown client %d: %v", i, err)
		}
	}
}

// waitFor polls cond until it holds or waitGuard passes; returns whether it held.
func waitFor(cond func() bool) bool {
	deadline := time.Now().Add(waitGuard)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

// startPushConsumer starts a clustering push consumer of group on topic
// with a TAG expression, from the first offset, handing every message to receive
// (which may be called from several goroutines at once).
func startPushConsumer(c *check, namesrv, group, topic, expression string, receive func(*primitive.MessageExt)) rocketmq.PushConsumer {
	pc, err := rocketmq.NewPushConsumer(
		consumer.WithNsResolver(resolver(namesrv)),
		consumer.WithGroupName(group),
		consumer.WithConsumerModel(consumer.Clustering),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
	)
	c.noErr(err, "create push consumer")
	err = pc.Subscribe(topic, consumer.MessageSelector{Type: consumer.TAG, Expression: expression},
		func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
			for _, m := range msgs {
				receive(m)
			}
			return consumer.ConsumeSuccess, nil
		})
	c.noErr(err, "subscribe %s to %q", topic, expression)
	c.noErr(pc.Start(), "start push consumer %s", group)
	return pc
}
