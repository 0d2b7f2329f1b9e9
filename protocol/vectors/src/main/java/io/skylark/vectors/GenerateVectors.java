package io.skylark.vectors;

import static io.skylark.vectors.Out.obj;

import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.apache.rocketmq.common.MQVersion;
import org.apache.rocketmq.remoting.protocol.RemotingCommand;

/**
 * Writes Skylark's protocol test vectors by calling Apache RocketMQ's own encoders.
 * Usage: GenerateVectors OUTPUT_DIR
 */
public final class GenerateVectors {
    private GenerateVectors() {
    }

    public static void main(String[] args) {
        if (args.length != 1) {
            System.err.println("usage: GenerateVectors OUTPUT_DIR");
            System.exit(2);
        }
        int rc = 0;
        try {
            run(Path.of(args[0]));
        } catch (Throwable t) {
            t.printStackTrace();
            rc = 1;
        }
        // The message store leaves non-daemon service threads behind.
        System.exit(rc);
    }

    private static void run(Path dir) throws Exception {
        // NamesrvStartup, BrokerStartup and MQClientAPIImpl all pin the remoting version to
        // MQVersion.CURRENT_VERSION before creating commands; without it RemotingCommand writes 0.
        System.setProperty(RemotingCommand.REMOTING_VERSION_KEY, Integer.toString(MQVersion.CURRENT_VERSION));

        Out out = new Out(dir);
        MessageVectors messages = new MessageVectors(out);
        messages.generate();
        FrameVectors frames = new FrameVectors(out, messages);
        frames.generate();
        BodyVectors bodies = new BodyVectors(out);
        bodies.generate();
        new MiscVectors(out).generate();

        Map<String, Object> manifest = obj(
            "generator", "rocketmq " + MQVersion.getVersionDesc(MQVersion.CURRENT_VERSION)
                .replace("V", "").replace('_', '.'),
            "remotingVersion", MQVersion.CURRENT_VERSION,
            "notes", obj(
                "frames", "Each file is one frame exactly as NettyEncoder writes it: 4-byte total length, "
                    + "4-byte serialize type + header length, header, body. Decoded fields come from "
                    + "RemotingCommand.decode; extFields is listed in wire order (also extFieldsOrder).",
                "messages", "CommitLog records written by rocketmq-store's CommitLog.asyncPutMessage and read "
                    + "back from the mapped file; decoded fields come from MessageDecoder.decode. Hosts are "
                    + "'ip:port', IPv6 as '[InetAddress.getHostAddress()]:port' (uncompressed groups).",
                "properties", "properties maps are in wire order; propertiesString is the raw string.",
                "bodies", "Exactly what RemotingSerializable (fastjson 1.x) writes; *.pretty.json use toJson(true)."),
            "frames", frames.frames,
            "messages", messages.messages,
            "batches", messages.batches,
            "bodies", bodies.bodies);
        out.writeJson("manifest.json", manifest);
        checkBodyRefs(dir, frames.frames);
    }

    /** Frames that carry another vector as their body must match that file byte for byte. */
    @SuppressWarnings("unchecked")
    private static void checkBodyRefs(Path dir, List<Object> frames) throws Exception {
        for (Object o : frames) {
            Map<String, Object> f = (Map<String, Object>) o;
            String ref = (String) f.get("bodyRef");
            if (ref == null) {
                continue;
            }
            ByteArrayOutputStream expected = new ByteArrayOutputStream();
            for (String file : ref.split(" ")) {
                expected.write(Files.readAllBytes(dir.resolve(file)));
            }
            if (!Out.hex(expected.toByteArray()).equals(f.get("bodyHex"))) {
                throw new IllegalStateException(f.get("file") + ": body differs from " + ref);
            }
        }
    }
}
