package io.skylark.interop;

import java.nio.charset.StandardCharsets;

import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.message.MessageQueue;

/** One message as a consumer saw it. */
record Delivery(String consumer, String key, String keys, String tags, String body, MessageQueue queue,
        long queueOffset, String msgId, long storeTimestamp, String seq) {
    /** What {@code consumer} got: {@code message}, from {@code queue}. */
    static Delivery of(String consumer, MessageQueue queue, MessageExt message) {
        String keys = message.getKeys();
        String first = keys == null ? null : keys.split(" ")[0];
        MessageQueue mq = queue != null ? queue
                : new MessageQueue(message.getTopic(), message.getBrokerName(), message.getQueueId());
        return new Delivery(consumer, first, keys, message.getTags(),
                new String(message.getBody(), StandardCharsets.UTF_8), mq, message.getQueueOffset(),
                message.getMsgId(), message.getStoreTimestamp(), message.getUserProperty(Messages.SEQ));
    }
}
