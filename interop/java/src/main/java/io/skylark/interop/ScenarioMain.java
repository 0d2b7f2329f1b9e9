package io.skylark.interop;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * {@code ScenarioMain SCENARIO NAMESRV_ADDR [ARGS...]}: runs one interop
 * scenario with the official RocketMQ client against the broker(s) behind
 * NAMESRV_ADDR. Prints {@code ok:}/{@code FAIL:} lines and a closing count;
 * exits 0 when every check passed, 3 when one failed, 4 when the hang guard
 * fired ({@code -Dinterop.hangGuardSeconds}, default 300), 1 on bad usage.
 */
public final class ScenarioMain {
    /** One scenario: checks go to {@code check}. */
    @FunctionalInterface
    interface Scenario {
        void run(Check check, String namesrv, List<String> args) throws Exception;
    }

    private static final Map<String, Scenario> SCENARIOS = new TreeMap<>(Map.ofEntries(
            Map.entry("send", SendScenarios::send),
            Map.entry("admin-topics", AdminTopicsScenario::run),
            Map.entry("admin-consume", AdminConsumeScenario::run),
            Map.entry("batch", SendScenarios::batch),
            Map.entry("transaction", TransactionScenarios::commitAndRollback),
            Map.entry("transaction-check", TransactionScenarios::resolvedByCheck),
            Map.entry("keys-tags", KeysTagsScenario::run),
            Map.entry("clustering", ClusteringScenario::run),
            Map.entry("broadcasting", BroadcastingScenario::run),
            Map.entry("orderly", OrderlyScenario::run),
            Map.entry("lite-pull", LitePullScenario::run),
            Map.entry("retry-dlq", RetryDelayScenarios::retryDlq),
            Map.entry("delay-level", RetryDelayScenarios::delayLevel),
            Map.entry("timer", TimerScenario::run),
            Map.entry("sql92-filter", Sql92FilterScenario::filter),
            Map.entry("sql92-unsupported", Sql92FilterScenario::unsupported),
            Map.entry("restart-before", RestartScenarios::before),
            Map.entry("restart-after", RestartScenarios::after),
            Map.entry("produce-until-killed", RestartScenarios::produceUntilKilled),
            Map.entry("consume-acked", RestartScenarios::consumeAcked),
            Map.entry("multi-master", MultiMasterScenario::run),
            Map.entry("from-rust", CrossLanguageScenarios::fromRust),
            Map.entry("to-rust", CrossLanguageScenarios::toRust)));

    private ScenarioMain() {}

    public static void main(String[] argv) {
        if (argv.length < 2 || !SCENARIOS.containsKey(argv[0])) {
            System.err.println("usage: ScenarioMain SCENARIO NAMESRV_ADDR [ARGS...]; scenarios: " + SCENARIOS.keySet());
            System.exit(1);
        }
        String name = argv[0];
        String namesrv = argv[1];
        List<String> args = List.of(argv).subList(2, argv.length);
        Check check = new Check(name);
        startHangGuard(check, name, Long.getLong("interop.hangGuardSeconds", 300));

        Log.step("scenario " + name + " with client " + Clients.version() + " against " + namesrv + " " + args);
        try {
            SCENARIOS.get(name).run(check, namesrv, args);
        } catch (Check.Abort e) {
            Log.out("(scenario stopped: " + e.getMessage() + ")");
        } catch (Throwable e) {
            check.fail("unexpected " + Check.describe(e));
            e.printStackTrace();
        } finally {
            Clients.closeAll();
        }
        int failed = check.finish(Clients.version());
        System.exit(failed == 0 ? 0 : 3);
    }

    /** After {@code seconds}, fails the scenario, dumps every thread to stderr, and exits 4. */
    private static void startHangGuard(Check check, String name, long seconds) {
        Thread guard = new Thread(() -> {
            Wait.sleep(seconds * 1000);
            check.fail("hang guard: scenario " + name + " still running after " + seconds + "s");
            for (ThreadInfo info : ManagementFactory.getThreadMXBean().dumpAllThreads(false, false)) {
                System.err.print(info);
            }
            check.finish(Clients.version());
            Runtime.getRuntime().halt(4);
        }, "hang-guard");
        guard.setDaemon(true);
        guard.start();
    }
}
