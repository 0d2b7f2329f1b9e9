package io.skylark.compat;

import org.apache.rocketmq.broker.BrokerStartup;

/**
 * Starts RocketMQ's own broker ({@code BrokerStartup -c CONF}) after checking the arguments,
 * so that a wrong invocation fails with a clear message instead of RocketMQ's usage text.
 */
public final class JavaReplica {
    private JavaReplica() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 2 || !"-c".equals(args[0])) {
            System.err.println("usage: JavaReplica -c BROKER_CONF");
            System.exit(2);
        }
        if (System.getProperty("rocketmq.home.dir") == null) {
            System.err.println("JavaReplica: -Drocketmq.home.dir must be set (run.sh sets it)");
            System.exit(2);
        }
        BrokerStartup.main(args);
    }
}
