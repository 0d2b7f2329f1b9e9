package main

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"
)

const (
	// pushBatch messages are sent before the consumer starts and as many
	// again while it is running (served by a long-polling pull).
	pushBatch = 30
	// settle is how long the consumer keeps running after the last expected
	// delivery, so that a duplicate or stray message has a chance to show.
	settle = 3 * time.Second
)

// pushScenario: a clustering push consumer subscribed to `TagA || TagB`
// receives every TagA and TagB message exactly once, as sent, and no TagC.
func pushScenario(c *check, namesrv string) {
	topic := uniqueName("GoPush")
	group := uniqueName("GoPushGroup")
	p := startProducer(c, namesrv)
	tags := []string{"TagA", "TagB", "TagC"}

	var mu sync.Mutex
	expected := map[string]*sent{} // by msgId, TagA and TagB only
	// Every delivery by msgId, judged at the end: a delivery may overtake
	// the send's result, and so its entry in expected.
	deliveries := map[string][]*primitive.MessageExt{}

	sendBatch := func(kind string) {
		var bad []string
		for i := 0; i < pushBatch; i++ {
			s := &sent{msg: newMessage(topic, kind, tags[i%3], i), seq: fmt.Sprintf("%s-%d", kind, i)}
			var err error
			s.res, err = p.SendSync(context.Background(), s.msg)
			if b := checkResult(s, err); len(b) > 0 {
				bad = append(bad, b...)
				continue
			}
			if s.msg.GetTags() != "TagC" {
				mu.Lock()
				expected[s.res.MsgID] = s
				mu.Unlock()
			}
		}
		if !report(c, bad, "%d sync sends (%s) to %s: SEND_OK", pushBatch, kind, topic) {
			panic(abort{"sends failed"})
		}
	}
	receive := func(m *primitive.MessageExt) {
		mu.Lock()
		defer mu.Unlock()
		deliveries[m.MsgId] = append(deliveries[m.MsgId], m)
	}
	// Every expected message delivered at least once.
	allDelivered := func() bool {
		mu.Lock()
		defer mu.Unlock()
		for id := range expected {
			if len(deliveries[id]) == 0 {
				return false
			}
		}
		return true
	}
	// What is still missing, for a failure message.
	missing := func() string {
		mu.Lock()
		defer mu.Unlock()
		var out []string
		for id, s := range expected {
			if len(deliveries[id]) == 0 {
				out = append(out, s.seq)
			}
		}
		if len(out) == 0 {
			return ""
		}
		sort.Strings(out)
		return fmt.Sprintf(" (%d missing after %s: %v)", len(out), waitGuard, out)
	}

	step("send %d messages tagged TagA, TagB, TagC to %s", pushBatch, topic)
	sendBatch("before")
	step("start push consumer %s on %q", group, "TagA || TagB")
	pc := startPushConsumer(c, namesrv, group, topic, "TagA || TagB", receive)
	defer shutdownAll(c, p, pc)
	c.that(waitFor(allDelivered), "messages sent before the consumer started are all delivered%s", missing())

	step("send %d more while it runs", pushBatch)
	sendBatch("after")
	c.that(waitFor(allDelivered), "messages sent while it runs are all delivered%s", missing())
	time.Sleep(settle)

	mu.Lock()
	defer mu.Unlock()
	var dups, strays, problems []string
	total := 0
	for id, got := range deliveries {
		total += len(got)
		s := expected[id]
		if s == nil {
			m := got[0]
			strays = append(strays, fmt.Sprintf("%s (tag %s, msgId %s, queue offset %d)",
				m.GetProperty(seqProperty), m.GetTags(), m.MsgId, m.QueueOffset))
			continue
		}
		if len(got) > 1 {
			dups = append(dups, fmt.Sprintf("%s delivered %d times", s.seq, len(got)))
		}
		problems = append(problems, compare(s, got[0])...)
	}
	sort.Strings(dups)
	sort.Strings(strays)
	report(c, dups, "each of the %d TagA/TagB messages delivered exactly once (%d deliveries in all)", len(expected), total)
	report(c, strays, "no TagC or unknown message delivered")
	report(c, problems, "delivered messages as sent: body, tags, keys, property, ids, queue, offsets, store host, body CRC")
}
