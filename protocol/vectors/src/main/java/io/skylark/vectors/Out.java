package io.skylark.vectors;

import com.alibaba.fastjson.JSON;
import com.alibaba.fastjson.serializer.SerializerFeature;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** File output plus the small helpers shared by every vector group. */
final class Out {
    private final Path root;

    Out(Path root) {
        this.root = root;
    }

    /** Writes {@code data} to {@code rel} under the output root, creating parent folders. */
    void write(String rel, byte[] data) throws IOException {
        Path p = root.resolve(rel);
        Files.createDirectories(p.getParent());
        Files.write(p, data);
    }

    /** Writes one of our own describing documents (manifest, misc) as pretty JSON. */
    void writeJson(String rel, Object doc) throws IOException {
        // Our own documents only; the vectors themselves are never produced through this.
        // DisableCircularReferenceDetect keeps fastjson from emitting "$ref" for shared objects.
        String json = JSON.toJSONString(doc, SerializerFeature.PrettyFormat,
            SerializerFeature.WriteMapNullValue, SerializerFeature.DisableCircularReferenceDetect);
        write(rel, (json + "\n").getBytes(StandardCharsets.UTF_8));
    }

    static String hex(byte[] data) {
        return data == null ? null : HexFormat.of().formatHex(data);
    }

    /** Insertion-ordered map literal, so documents keep a stable, readable key order. */
    static Map<String, Object> obj(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put((String) kv[i], kv[i + 1]);
        }
        return m;
    }

    static List<Object> list() {
        return new ArrayList<>();
    }
}
