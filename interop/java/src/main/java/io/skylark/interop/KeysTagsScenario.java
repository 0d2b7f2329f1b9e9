package io.skylark.interop;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.apache.rocketmq.client.QueryResult;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.common.message.MessageDecoder;
import org.apache.rocketmq.common.message.MessageExt;

/**
 * {@code keys-tags}: a consumer subscribed to one tag gets exactly that
 * tag's messages, and every consumer sees each message's keys and tags as
 * sent; messages can be found again by key (the IndexFile) and by id.
 */
final class KeysTagsScenario {
    private static final int COUNT = 30;
    private static final String[] TAGS = {"TagA", "TagB", "TagC"};

    private KeysTagsScenario() {}

    static void run(Check check, String namesrv, List<String> args) throws Exception {
        DefaultMQProducer producer = Clients.producer(namesrv);
        String topic = Clients.name("Keys");
        Admin.createTopic(check, producer, topic, 4);

        Received tagA = new Received();
        DefaultMQPushConsumer onlyA = Clients.pushConsumer(namesrv, Clients.name("GA"));
        onlyA.subscribe(topic, "TagA");
        onlyA.registerMessageListener(tagA.concurrently("onlyA"));
        Clients.start(onlyA);
        Received every = new Received();
        DefaultMQPushConsumer all = Clients.pushConsumer(namesrv, Clients.name("GAll"));
        all.subscribe(topic, "*");
        all.registerMessageListener(every.concurrently("all"));
        Clients.start(all);

        Map<String, SendResult> sent = new HashMap<>();
        Map<String, String> tagOf = new HashMap<>();
        List<String> keys = new ArrayList<>();
        Set<String> keysA = new HashSet<>();
        for (int i = 0; i < COUNT; i++) {
            String tag = TAGS[i % TAGS.length];
            String key = Messages.key(topic, i);
            sent.put(key, producer.send(Messages.make(topic, tag, i)));
            tagOf.put(key, tag);
            keys.add(key);
            if (tag.equals("TagA")) {
                keysA.add(key);
            }
        }
        check.pass("sent " + COUNT + " messages tagged " + String.join("/", TAGS));

        every.awaitKeys(keys);
        tagA.awaitKeysThenQuiet(keysA, Duration.ofSeconds(3));
        check.equal(keysA, tagA.keys(), "keys received by the consumer subscribed to TagA");
        check.equal(keysA.size(), tagA.all().size(), "deliveries to the TagA consumer (each once)");
        check.equal(Set.copyOf(keys), every.keys(), "keys received by the consumer subscribed to *");
        check.that(every.duplicated().isEmpty(), "the * consumer got each message once", every.duplicated());

        List<String> wrong = new ArrayList<>();
        for (Delivery d : every.all()) {
            int i = keys.indexOf(d.key());
            if (!(d.key() + " k" + i).equals(d.keys())) {
                wrong.add(d.key() + " has keys '" + d.keys() + "'");
            }
            if (!tagOf.get(d.key()).equals(d.tags())) {
                wrong.add(d.key() + " has tags '" + d.tags() + "', sent " + tagOf.get(d.key()));
            }
        }
        for (Delivery d : tagA.all()) {
            if (!"TagA".equals(d.tags())) {
                wrong.add("the TagA consumer got " + d.key() + " tagged " + d.tags());
            }
        }
        check.that(wrong.isEmpty(), "consumed messages carry both keys and the tag they were sent with", wrong);
        every.checkBodies(check);

        lookups(check, producer, topic, keys.get(7), sent.get(keys.get(7)));
    }

    /** Query by key (IndexFile), view by the broker's offset id, view by the client's unique id. */
    @SuppressWarnings("deprecation") // the MQAdmin calls applications (and mqadmin) still use
    private static void lookups(Check check, DefaultMQProducer producer, String topic, String key, SendResult sent) {
        List<String> errors = new ArrayList<>();
        List<MessageExt> found = new ArrayList<>();
        Wait.until(Wait.SETTLE, () -> {
            try {
                QueryResult result = producer.queryMessage(topic, key, 32, 0, Long.MAX_VALUE);
                found.clear();
                found.addAll(result.getMessageList());
            } catch (Exception e) {
                errors.add(Check.describe(e));
            }
            return !found.isEmpty();
        });
        check.that(found.size() == 1 && Messages.bodyMatches(key, body(found.get(0))),
                "query by key " + key + " (QUERY_MESSAGE, IndexFile) finds the message",
                found.size() + " found" + (errors.isEmpty() ? "" : "; last error: " + errors.get(errors.size() - 1)));

        // The offset id names the broker's store address; look only where loopback is.
        String host = "?";
        try {
            host = ((InetSocketAddress) MessageDecoder.decodeMessageId(sent.getOffsetMsgId()).getAddress())
                    .getAddress().getHostAddress();
        } catch (Exception e) {
            check.fail("decode offset message id " + sent.getOffsetMsgId() + ": " + Check.describe(e));
        }
        if (host.startsWith("127.")) {
            try {
                MessageExt byOffsetId = viewByOffsetId(producer, topic, sent.getOffsetMsgId());
                check.that(Messages.bodyMatches(key, body(byOffsetId)),
                        "view by offset message id (VIEW_MESSAGE_BY_ID) returns the message", byOffsetId);
            } catch (Exception e) {
                check.fail("view by offset message id (VIEW_MESSAGE_BY_ID): " + Check.describe(e));
            }
        } else {
            check.fail("offset message id " + sent.getOffsetMsgId() + " names store host " + host
                    + ", not the broker's loopback address");
        }
        try {
            MessageExt byUniqueId = producer.getDefaultMQProducerImpl().queryMessageByUniqKey(topic, sent.getMsgId());
            check.that(byUniqueId != null && Messages.bodyMatches(key, body(byUniqueId)),
                    "query by the client's message id (QUERY_MESSAGE by unique key) returns the message",
                    byUniqueId);
        } catch (Exception e) {
            check.fail("query by the client's message id (QUERY_MESSAGE by unique key): " + Check.describe(e));
        }
    }

    /**
     * VIEW_MESSAGE_BY_ID alone: the producer's own {@code viewMessage} falls
     * back to a query by unique key, which would hide its failure. The admin
     * call takes the id (4.x) or the topic and the id (5.x).
     */
    private static MessageExt viewByOffsetId(DefaultMQProducer producer, String topic, String offsetMsgId)
            throws Exception {
        Object admin = producer.getDefaultMQProducerImpl().getMqClientFactory().getMQAdminImpl();
        try {
            for (Method m : admin.getClass().getMethods()) {
                if (m.getName().equals("viewMessage") && m.getParameterCount() == 1) {
                    return (MessageExt) m.invoke(admin, offsetMsgId);
                }
            }
            return (MessageExt) admin.getClass().getMethod("viewMessage", String.class, String.class)
                    .invoke(admin, topic, offsetMsgId);
        } catch (InvocationTargetException e) {
            throw e.getCause() instanceof Exception cause ? cause : e;
        }
    }

    private static String body(MessageExt message) {
        return new String(message.getBody(), StandardCharsets.UTF_8);
    }
}
