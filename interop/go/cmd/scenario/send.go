package main

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
)

const (
	syncSends  = 40
	asyncSends = 40
)

// sendScenario: sync and async sends with tags and keys to a topic created
// from TBW102, each answered SEND_OK with a message id, an offset message id,
// a queue and an offset; every queue's offsets run 0..n-1; every message reads
// back (pull by queue and offset) as it was sent.
func sendScenario(c *check, namesrv string) {
	topic := uniqueName("GoSend")
	p := startProducer(c, namesrv)
	defer shutdownAll(c, p)
	tags := []string{"TagA", "TagB"}

	step("%d sync sends to %s", syncSends, topic)
	var all []*sent
	var problems, order []string
	lastOffset := int64(-1)
	for i := 0; i < syncSends; i++ {
		s := &sent{msg: newMessage(topic, "sync", tags[i%2], i), seq: fmt.Sprintf("sync-%d", i)}
		var err error
		s.res, err = p.SendSync(context.Background(), s.msg)
		bad := checkResult(s, err)
		problems = append(problems, bad...)
		if len(bad) == 0 {
			all = append(all, s)
			if off := commitLogOffset(s.res); off <= lastOffset {
				order = append(order, fmt.Sprintf("%s: commit log offset %d after %d", s.seq, off, lastOffset))
			} else {
				lastOffset = off
			}
		}
	}
	report(c, problems, "%d sync sends: SEND_OK with msgId, offsetMsgId, queue and queue offset", syncSends)
	report(c, order, "sync sends' commit log offsets (from offsetMsgId) increase")

	step("%d async sends to %s", asyncSends, topic)
	all = append(all, sendAsync(c, p, topic, tags)...)

	checkQueueOffsets(c, all)
	readBack(c, namesrv, topic, all)
}

// sendAsync sends asyncSends messages at once and checks each callback.
func sendAsync(c *check, p interface {
	SendAsync(context.Context, func(context.Context, *primitive.SendResult, error), ...*primitive.Message) error
}, topic string, tags []string) []*sent {
	var mu sync.Mutex
	var wg sync.WaitGroup
	var problems []string
	var good []*sent
	calls := make([]int, asyncSends)
	for i := 0; i < asyncSends; i++ {
		s := &sent{msg: newMessage(topic, "async", tags[i%2], i), seq: fmt.Sprintf("async-%d", i)}
		wg.Add(1)
		err := p.SendAsync(context.Background(), func(_ context.Context, res *primitive.SendResult, err error) {
			mu.Lock()
			defer mu.Unlock()
			calls[i]++
			if calls[i] > 1 {
				problems = append(problems, fmt.Sprintf("%s: callback called %d times", s.seq, calls[i]))
				return
			}
			defer wg.Done()
			s.res = res
			bad := checkResult(s, err)
			problems = append(problems, bad...)
			if len(bad) == 0 {
				good = append(good, s)
			}
		}, s.msg)
		if err != nil {
			mu.Lock()
			problems = append(problems, fmt.Sprintf("%s: SendAsync: %v", s.seq, err))
			calls[i]++
			mu.Unlock()
			wg.Done()
		}
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(waitGuard):
	}
	mu.Lock()
	defer mu.Unlock()
	for i, n := range calls {
		if n == 0 {
			problems = append(problems, fmt.Sprintf("async-%d: no callback within %s", i, waitGuard))
		}
	}
	report(c, problems, "%d async sends: one callback each, SEND_OK with msgId, offsetMsgId, queue and queue offset", asyncSends)
	return append([]*sent(nil), good...)
}

// checkQueueOffsets: on a new topic, each queue's offsets are 0..n-1, each once.
func checkQueueOffsets(c *check, all []*sent) {
	byQueue := map[int][]int64{}
	for _, s := range all {
		byQueue[s.res.MessageQueue.QueueId] = append(byQueue[s.res.MessageQueue.QueueId], s.res.QueueOffset)
	}
	var problems []string
	for q, offsets := range byQueue {
		sort.Slice(offsets, func(i, j int) bool { return offsets[i] < offsets[j] })
		for i, off := range offsets {
			if off != int64(i) {
				problems = append(problems, fmt.Sprintf("queue %d: offsets %v, want 0..%d", q, offsets, len(offsets)-1))
				break
			}
		}
	}
	report(c, problems, "%d messages over %d queues: each queue's offsets are 0..n-1, each once", len(all), len(byQueue))
}

// readBack pulls every queue from offset 0 and compares each message with
// what was sent to that queue and offset.
func readBack(c *check, namesrv, topic string, all []*sent) {
	step("read back %d messages by queue and offset", len(all))
	pc, err := consumer.NewPullConsumer(
		consumer.WithNsResolver(resolver(namesrv)),
		consumer.WithGroupName(uniqueName("GoReadBack")),
	)
	c.noErr(err, "create pull consumer")
	// Assigned no queues, it pulls nothing by itself: only PullFrom below reads.
	c.noErr(pc.Assign(topic, nil), "assign pull consumer")
	c.noErr(pc.Start(), "start pull consumer")
	defer shutdownAll(c, pc)

	type at struct {
		queue  int
		offset int64
	}
	want := map[at]*sent{}
	queues := map[int]*primitive.MessageQueue{}
	ends := map[int]int64{} // one past the last offset sent to each queue
	for _, s := range all {
		qid := s.res.MessageQueue.QueueId
		want[at{qid, s.res.QueueOffset}] = s
		queues[qid] = s.res.MessageQueue
		ends[qid] = max(ends[qid], s.res.QueueOffset+1)
	}
	var problems []string
	seen := map[at]bool{}
	for qid, mq := range queues {
		// A pull at the end would be held by the broker (long polling) until
		// its suspend timeout: reading stops at the last offset sent.
		for offset := int64(0); offset < ends[qid]; {
			queue := *mq
			ctx, cancel := context.WithTimeout(context.Background(), waitGuard)
			r, err := pc.PullFrom(ctx, &queue, offset, 32)
			cancel()
			if err != nil {
				problems = append(problems, fmt.Sprintf("queue %d: pull from %d: %v", qid, offset, err))
				break
			}
			if r.Status != primitive.PullFound {
				problems = append(problems, fmt.Sprintf("queue %d: pull from %d: status %d, want FOUND (min %d max %d next %d)",
					qid, offset, r.Status, r.MinOffset, r.MaxOffset, r.NextBeginOffset))
				break
			}
			for _, m := range r.GetMessageExts() {
				key := at{qid, m.QueueOffset}
				s := want[key]
				switch {
				case s == nil:
					problems = append(problems, fmt.Sprintf("queue %d offset %d: unexpected message %q", qid, m.QueueOffset, m.GetProperty(seqProperty)))
				case seen[key]:
					problems = append(problems, fmt.Sprintf("%s: read twice", s.seq))
				default:
					seen[key] = true
					problems = append(problems, compare(s, m)...)
				}
			}
			if r.NextBeginOffset <= offset {
				problems = append(problems, fmt.Sprintf("queue %d: next offset %d after pulling from %d", qid, r.NextBeginOffset, offset))
				break
			}
			offset = r.NextBeginOffset
		}
	}
	for key, s := range want {
		if !seen[key] {
			problems = append(problems, fmt.Sprintf("%s: not read back at queue %d offset %d", s.seq, key.queue, key.offset))
		}
	}
	report(c, problems, "%d messages read back by queue and offset: body, tags, keys, property, ids, queue, offsets, store host, body CRC as sent", len(all))
}
