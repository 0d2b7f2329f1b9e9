package main

import (
	"bytes"
	"fmt"
	"hash/crc32"
	"strconv"
	"strings"

	"github.com/apache/rocketmq-client-go/v2/primitive"
)

// seqProperty is a user property naming each message, checked on read-back.
const seqProperty = "interop-seq"

// sent is one message as sent and the broker's answer to it.
type sent struct {
	msg *primitive.Message
	seq string
	res *primitive.SendResult
}

// newMessage builds message number i of a kind (e.g. "sync") on topic with
// tag, two keys, a user property and a body that names all of them.
func newMessage(topic, kind, tag string, i int) *primitive.Message {
	seq := fmt.Sprintf("%s-%d", kind, i)
	body := []byte(fmt.Sprintf("go interop %s %s %s: %s", topic, seq, tag, strings.Repeat("x", i%7*13)))
	m := primitive.NewMessage(topic, body).WithTag(tag).WithKeys([]string{"key-" + seq, "run-" + topic})
	m.WithProperty(seqProperty, seq)
	return m
}

// checkResult lists what is wrong with the broker's answer to a send of
// message s (empty when it is a SEND_OK with ids, queue and offset).
func checkResult(s *sent, err error) []string {
	if err != nil {
		return []string{fmt.Sprintf("%s: send error: %v", s.seq, err)}
	}
	r := s.res
	var bad []string
	if r == nil {
		return []string{fmt.Sprintf("%s: no result", s.seq)}
	}
	if r.Status != primitive.SendOK {
		bad = append(bad, fmt.Sprintf("%s: status %d, want SEND_OK", s.seq, r.Status))
	}
	if r.MsgID == "" || r.MsgID != s.msg.GetProperty(primitive.PropertyUniqueClientMessageIdKeyIndex) {
		bad = append(bad, fmt.Sprintf("%s: msgId %q is not the message's unique key", s.seq, r.MsgID))
	}
	if id, err := primitive.UnmarshalMsgID([]byte(r.OffsetMsgID)); err != nil || len(r.OffsetMsgID) != 32 || id.Port <= 0 {
		bad = append(bad, fmt.Sprintf("%s: offsetMsgId %q does not decode to an IPv4 host, port and offset (%v)", s.seq, r.OffsetMsgID, err))
	}
	if r.MessageQueue == nil || r.MessageQueue.Topic != s.msg.Topic || r.MessageQueue.BrokerName == "" || r.MessageQueue.QueueId < 0 {
		bad = append(bad, fmt.Sprintf("%s: message queue %v, want topic %s on a named broker", s.seq, r.MessageQueue, s.msg.Topic))
	}
	if r.QueueOffset < 0 {
		bad = append(bad, fmt.Sprintf("%s: queue offset %d", s.seq, r.QueueOffset))
	}
	return bad
}

// commitLogOffset is the commit log offset in the send result's offset message id.
func commitLogOffset(r *primitive.SendResult) int64 {
	id, err := primitive.UnmarshalMsgID([]byte(r.OffsetMsgID))
	if err != nil {
		return -1
	}
	return id.Offset
}

// compare lists how got, as read back, differs from what s sent and the
// broker answered.
func compare(s *sent, got *primitive.MessageExt) []string {
	var bad []string
	differ := func(what string, want, have any) {
		if fmt.Sprint(want) != fmt.Sprint(have) {
			bad = append(bad, fmt.Sprintf("%s: %s is %v, want %v", s.seq, what, have, want))
		}
	}
	differ("topic", s.msg.Topic, got.Topic)
	differ("tags", s.msg.GetTags(), got.GetTags())
	differ("keys", s.msg.GetKeys(), got.GetKeys())
	differ("property "+seqProperty, s.seq, got.GetProperty(seqProperty))
	if !bytes.Equal(s.msg.Body, got.Body) {
		bad = append(bad, fmt.Sprintf("%s: body %q, want %q", s.seq, got.Body, s.msg.Body))
	}
	// RocketMQ stores CRC32 of the body with the sign bit cleared.
	differ("body CRC", int32(crc32.ChecksumIEEE(s.msg.Body)&0x7fffffff), got.BodyCRC)
	differ("msgId", s.res.MsgID, got.MsgId)
	differ("offsetMsgId", s.res.OffsetMsgID, got.OffsetMsgId)
	differ("commit log offset", commitLogOffset(s.res), got.CommitLogOffset)
	if got.Queue != nil {
		differ("queue id", s.res.MessageQueue.QueueId, got.Queue.QueueId)
	}
	differ("queue offset", s.res.QueueOffset, got.QueueOffset)
	if id, err := primitive.UnmarshalMsgID([]byte(s.res.OffsetMsgID)); err == nil {
		differ("store host", id.Addr+":"+strconv.Itoa(id.Port), got.StoreHost)
	}
	if got.BornTimestamp <= 0 || got.StoreTimestamp <= 0 || got.BornHost == "" {
		bad = append(bad, fmt.Sprintf("%s: born %d at %q, stored %d", s.seq, got.BornTimestamp, got.BornHost, got.StoreTimestamp))
	}
	differ("reconsume times", 0, got.ReconsumeTimes)
	return bad
}

// report turns per-message problems into one check: passed when there are
// none, else failed with the count and the first few.
func report(c *check, problems []string, format string, args ...any) bool {
	what := fmt.Sprintf(format, args...)
	if len(problems) == 0 {
		c.ok("%s", what)
		return true
	}
	shown := problems
	if len(shown) > 10 {
		shown = shown[:10]
	}
	c.fail("%s: %d problems, first %d:\n    %s", what, len(problems), len(shown), strings.Join(shown, "\n    "))
	return false
}
