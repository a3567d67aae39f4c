/*
 * Local single-node Elasticsearch launcher for integration tests (no Docker, no ES distribution).
 *
 * The jars come from Maven Central (see es-pom.xml); scripts/stack.sh compiles this file with javac
 * against them and runs it with everything on the class path.  Only the plugins/modules that are
 * published to Maven Central can be loaded (transport-netty4 for HTTP); modules of the official
 * distribution such as analysis-common, painless, mapper-extras, reindex, rest-root are absent.
 *
 * The class lives in org.elasticsearch.node because NodeServiceProvider / NodeConstruction are
 * package-private: overriding NodeServiceProvider.newPluginService is the supported hook (the ES
 * test framework's MockNode does the same) to hand the node plugins that live on the class path
 * instead of in a modules/ directory.
 *
 * System properties (all optional except es.home):
 *   es.home            node home (config/ is created inside); required
 *   es.data            data path                  (default ${es.home}/data)
 *   es.logs            logs path                  (default ${es.home}/logs)
 *   es.http.port       HTTP port                  (default 9200)
 *   es.transport.port  transport port             (default 9300)
 *   es.host            bind/publish host          (default 127.0.0.1)
 *   es.plugins         extra comma-separated Plugin class names to load from the class path
 */
package org.elasticsearch.node;

import org.elasticsearch.Build;
import org.elasticsearch.client.internal.node.NodeClient;
import org.elasticsearch.cluster.ClusterName;
import org.elasticsearch.cluster.metadata.IndexNameExpressionResolver;
import org.elasticsearch.cluster.node.DiscoveryNodes;
import org.elasticsearch.cluster.service.ClusterService;
import org.elasticsearch.common.io.stream.NamedWriteableRegistry;
import org.elasticsearch.common.logging.LogConfigurator;
import org.elasticsearch.common.settings.ClusterSettings;
import org.elasticsearch.common.settings.IndexScopedSettings;
import org.elasticsearch.common.settings.SettingsFilter;
import org.elasticsearch.features.NodeFeature;
import org.elasticsearch.plugins.ActionPlugin;
import org.elasticsearch.rest.BaseRestHandler;
import org.elasticsearch.rest.RestController;
import org.elasticsearch.rest.RestHandler;
import org.elasticsearch.rest.RestRequest;
import org.elasticsearch.rest.RestResponse;
import org.elasticsearch.rest.RestStatus;
import org.elasticsearch.xcontent.XContentBuilder;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.plugins.PluginDescriptor;
import org.elasticsearch.plugins.PluginsLoader;
import org.elasticsearch.plugins.PluginsService;

import java.lang.reflect.Constructor;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.function.Supplier;

public final class EsLauncher {
    private static final String DEFAULT_PLUGIN = "org.elasticsearch.transport.netty4.Netty4Plugin";
    private static volatile Node runningNode;

    public static void main(String[] args) throws Exception {
        long start = System.nanoTime();
        String homeProp = System.getProperty("es.home");
        if (homeProp == null) {
            System.err.println("EsLauncher: -Des.home=<dir> is required");
            System.exit(2);
        }
        Path home = Path.of(homeProp).toAbsolutePath();
        Path config = home.resolve("config");
        Path data = Path.of(System.getProperty("es.data", home.resolve("data").toString())).toAbsolutePath();
        Path logs = Path.of(System.getProperty("es.logs", home.resolve("logs").toString())).toAbsolutePath();
        Files.createDirectories(config);
        Files.createDirectories(data);
        Files.createDirectories(logs);
        writeLoggingConfig(config);

        String host = System.getProperty("es.host", "127.0.0.1");
        Settings settings = Settings.builder()
            .put("node.name", "stack-local")
            .put("cluster.name", "stack-local")
            .put("path.home", home.toString())
            .put("path.data", data.toString())
            .put("path.logs", logs.toString())
            .put("network.host", host)
            .put("http.port", System.getProperty("es.http.port", "9200"))
            .put("transport.port", System.getProperty("es.transport.port", "9300"))
            .put("discovery.type", "single-node")
            // a test node: never refuse writes because the disk of the dev machine is fuller than 85/90/95%
            .put("cluster.routing.allocation.disk.threshold_enabled", false)
            .put("action.auto_create_index", true)
            .build();

        Environment environment = new Environment(settings, config);
        LogConfigurator.configureESLogging();
        LogConfigurator.setNodeName("stack-local");
        LogConfigurator.configure(environment, true);

        List<Class<? extends Plugin>> pluginClasses = pluginClasses();
        PluginsLoader pluginsLoader = PluginsLoader.createPluginsLoader(Set.of(), Set.of(), Map.of(), false);
        NodeServiceProvider provider = new NodeServiceProvider() {
            @Override
            PluginsService newPluginService(Environment env, PluginsLoader loader) {
                return new ClasspathPluginsService(env.settings(), env.configDir(), loader, pluginClasses);
            }
        };
        Node node = new Node(NodeConstruction.prepareConstruction(environment, pluginsLoader, provider, true));

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.prepareForClose();
                node.close();
                node.awaitClose(20, TimeUnit.SECONDS);
            } catch (Exception e) {
                e.printStackTrace();
            } finally {
                stopped.countDown();
            }
        }, "es-launcher-shutdown"));

        node.start();
        runningNode = node;
        System.out.printf("EsLauncher: Elasticsearch %s started on http://%s:%s (plugins %s) in %.1fs%n",
            Build.current().version(), host, settings.get("http.port"), pluginClasses,
            (System.nanoTime() - start) / 1e9);
        stopped.await();
    }

    @SuppressWarnings("unchecked")
    private static List<Class<? extends Plugin>> pluginClasses() throws ClassNotFoundException {
        Set<String> names = new LinkedHashSet<>();
        names.add(DEFAULT_PLUGIN);
        names.add(RootInfoPlugin.class.getName());
        for (String name : System.getProperty("es.plugins", "").split(",")) {
            if (!name.isBlank()) names.add(name.trim());
        }
        List<Class<? extends Plugin>> classes = new ArrayList<>();
        for (String name : names) {
            classes.add((Class<? extends Plugin>) Class.forName(name));
        }
        return classes;
    }

    /**
     * GET / and HEAD / (info / ping of the clients). In the distribution they come from the rest-root module,
     * which is not published to Maven Central; this is a minimal stand-in with the same response shape.
     */
    public static final class RootInfoPlugin extends Plugin implements ActionPlugin {
        @Override
        public List<RestHandler> getRestHandlers(Settings settings, NamedWriteableRegistry namedWriteableRegistry,
                                                 RestController restController, ClusterSettings clusterSettings,
                                                 IndexScopedSettings indexScopedSettings, SettingsFilter settingsFilter,
                                                 IndexNameExpressionResolver indexNameExpressionResolver,
                                                 Supplier<DiscoveryNodes> nodesInCluster, Predicate<NodeFeature> clusterSupportsFeature) {
            return List.of(new BaseRestHandler() {
                @Override
                public String getName() {
                    return "stack_root_info";
                }

                @Override
                public List<Route> routes() {
                    return List.of(new Route(RestRequest.Method.GET, "/"), new Route(RestRequest.Method.HEAD, "/"));
                }

                @Override
                protected RestChannelConsumer prepareRequest(RestRequest request, NodeClient client) {
                    return channel -> {
                        Build build = Build.current();
                        Node node = runningNode;
                        String clusterUuid = node == null ? "_na_"
                            : node.injector().getInstance(ClusterService.class).state().metadata().clusterUUID();
                        XContentBuilder b = channel.newBuilder();
                        b.startObject()
                            .field("name", Node.NODE_NAME_SETTING.get(settings))
                            .field("cluster_name", ClusterName.CLUSTER_NAME_SETTING.get(settings).value())
                            .field("cluster_uuid", clusterUuid)
                            .startObject("version")
                            .field("number", build.qualifiedVersion())
                            .field("build_flavor", build.flavor())
                            .field("build_type", build.type().displayName())
                            .field("build_hash", build.hash())
                            .field("build_date", build.date())
                            .field("build_snapshot", build.isSnapshot())
                            .field("lucene_version", org.apache.lucene.util.Version.LATEST.toString())
                            .field("minimum_wire_compatibility_version", build.minWireCompatVersion())
                            .field("minimum_index_compatibility_version", build.minIndexCompatVersion())
                            .endObject()
                            .field("tagline", "You Know, for Search")
                            .endObject();
                        channel.sendResponse(new RestResponse(RestStatus.OK, b));
                    };
                }
            });
        }
    }

    /** log4j2 configuration read by LogConfigurator.configure: everything INFO+ to the console (stack.sh redirects it to a file). */
    private static void writeLoggingConfig(Path config) throws java.io.IOException {
        String properties = String.join("\n",
            "status = error",
            "appender.console.type = Console",
            "appender.console.name = console",
            "appender.console.layout.type = PatternLayout",
            "appender.console.layout.pattern = [%d{ISO8601}][%-5p][%-25c{1.}] [%node_name]%marker %m%consoleException%n",
            "rootLogger.level = info",
            "rootLogger.appenderRef.console.ref = console",
            "logger.deprecation.name = org.elasticsearch.deprecation",
            "logger.deprecation.level = error",
            "");
        Files.writeString(config.resolve("log4j2.properties"), properties, StandardCharsets.UTF_8);
    }

    /** A PluginsService whose plugins are instantiated from classes already on the class path. */
    static final class ClasspathPluginsService extends PluginsService {
        private final List<Object> loaded;

        ClasspathPluginsService(Settings settings, Path configDir, PluginsLoader loader, List<Class<? extends Plugin>> classes) {
            super(settings, configDir, loader);
            try {
                // PluginsService.LoadedPlugin is a package-private record of org.elasticsearch.plugins
                Class<?> recordClass = Class.forName("org.elasticsearch.plugins.PluginsService$LoadedPlugin");
                Constructor<?> ctor = recordClass.getDeclaredConstructor(PluginDescriptor.class, Plugin.class, ClassLoader.class);
                ctor.setAccessible(true);
                List<Object> list = new ArrayList<>();
                for (Class<? extends Plugin> c : classes) {
                    Plugin plugin = instantiate(c, settings, configDir);
                    PluginDescriptor descriptor = new PluginDescriptor(c.getName(), "class path plugin " + c.getName(), "NA",
                        Build.current().version(), "17", c.getName(), null, List.of(), false, false, false, false);
                    list.add(ctor.newInstance(descriptor, plugin, c.getClassLoader()));
                }
                this.loaded = List.copyOf(list);
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException("cannot load class path plugins " + classes, e);
            }
        }

        private static Plugin instantiate(Class<? extends Plugin> c, Settings settings, Path configDir) throws ReflectiveOperationException {
            for (Constructor<?> ctor : c.getConstructors()) {
                Class<?>[] p = ctor.getParameterTypes();
                if (p.length == 2 && p[0] == Settings.class && p[1] == Path.class) return (Plugin) ctor.newInstance(settings, configDir);
                if (p.length == 1 && p[0] == Settings.class) return (Plugin) ctor.newInstance(settings);
            }
            return c.getConstructor().newInstance();
        }

        @Override
        @SuppressWarnings({"unchecked", "rawtypes"})
        protected List plugins() {
            return loaded;
        }
    }
}
