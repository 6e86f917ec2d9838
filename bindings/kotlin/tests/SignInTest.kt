// The Kotlin bindings against a running lab pool (`sfbkit lab`, a child process), on the JVM, the way an Android
// app uses them: the host supplies the keystore, the devices and the network; events arrive through a Kotlin
// EventListener and through the suspend nextEvent(). Run by bindings/kotlin/run-tests.
//
// Usage: SignInTestKt <path to the sfbkit binary>
// Prints one "ok N - ..." or "not ok N - ..." line per check, and exits 1 when any check failed.

import org.sfbkit.*
import kotlinx.coroutines.*
import java.io.File
import java.nio.file.Files
import java.time.Duration
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.LinkedBlockingQueue
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicInteger
import kotlin.system.exitProcess

const val DOMAIN = "contoso.lab"

/** A keystore in a map, standing in for the Android Keystore or the iOS Keychain. */
class KotlinSecretStore : SecretStore {
    val entries = ConcurrentHashMap<Pair<String, String>, ByteArray>()
    val gets = AtomicInteger()
    val sets = AtomicInteger()

    override fun get(service: String, account: String): ByteArray? {
        gets.incrementAndGet()
        return entries[service to account]?.copyOf()
    }

    override fun set(service: String, account: String, secret: ByteArray) {
        sets.incrementAndGet()
        entries[service to account] = secret.copyOf()
    }

    override fun delete(service: String, account: String): Boolean = entries.remove(service to account) != null

    override fun describe(): String = "the Kotlin test's SecretStore"
}

/** What AudioManager and CameraManager would list. */
class KotlinDevices : DeviceProvider {
    override fun audioCapture() =
        listOf(Device("kt-mic-1", "Kotlin Test Microphone", DeviceKind.AUDIO_CAPTURE, true, 80.toUByte()))

    override fun audioRender() = listOf(
        Device("kt-speaker", "Kotlin Test Speaker", DeviceKind.AUDIO_RENDER, true, null),
        Device("kt-earpiece", "Kotlin Test Earpiece", DeviceKind.AUDIO_RENDER, false, null),
    )

    override fun videoCapture() =
        listOf(Device("kt-cam-front", "Kotlin Test Front Camera", DeviceKind.VIDEO_CAPTURE, true, null))

    override fun notes() = listOf("listed by the Kotlin DeviceProvider")
}

/**
 * What ConnectivityManager would say: Wi-Fi with the default route, loopback (where the lab pool is), and the
 * active network's DNS servers (LinkProperties.getDnsServers(): here, the lab's).
 */
class KotlinNetwork(private val dns: String) : NetworkInfo {
    val dnsAsked = AtomicInteger()

    override fun dnsServers(): List<String> {
        dnsAsked.incrementAndGet()
        return listOf(dns)
    }

    override fun adapters() = listOf(
        Adapter("wlan0", 3u, listOf("192.0.2.10"), true, false, true, "Wi-Fi"),
        Adapter("lo", 1u, listOf("127.0.0.1"), true, true, false, "Loopback"),
    )

    override fun routeTo(destination: String): String? = if (destination.startsWith("127.")) "127.0.0.1" else "192.0.2.10"
}

/** Collects events delivered on the SDK's threads. */
class Collector : EventListener {
    val events = LinkedBlockingQueue<Event>()
    @Volatile var thread: String? = null

    override fun onEvent(event: Event) {
        thread = Thread.currentThread().name
        events.put(event)
    }

    fun await(seconds: Long, matches: (Event) -> Boolean): Event? {
        val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds)
        while (true) {
            val left = deadline - System.nanoTime()
            if (left <= 0) return null
            val event = events.poll(left, TimeUnit.NANOSECONDS) ?: return null
            if (matches(event)) return event
        }
    }
}

/** A running `sfbkit lab` and what a client needs to reach it. */
class Lab(
    val process: Process,
    val dns: String,
    val https: Int,
    val http: Int,
    val sipPort: Int,
    val caPem: String,
    /** The sfbkit binary and the test's directory, for starting another lab. */
    val sfbkit: String,
    val dir: File,
) {
    /** A client for the lab; without `withDns` the DNS servers come from a NetworkInfo, as on Android. */
    fun builder(user: String, password: String, withDns: Boolean = true): ClientBuilder = ClientBuilder("$user@$DOMAIN")
        .credentials("$user@$DOMAIN", password)
        .let { if (withDns) it.dnsServers(listOf(dns)) else it }
        .autodiscoverPorts(https.toUShort(), http.toUShort())
        .aRecordPort(sipPort.toUShort())
        .caCertificates(listOf(caPem))
}

fun startLab(sfbkit: String, dir: File, password: String, name: String = "lab", extra: List<String> = listOf()): Lab {
    val config = File(dir, "$name.toml")
    // The test's own user directory, with its own password.
    config.writeText(
        listOf("alice" to "Alice Anders", "bob" to "Bob Berg", "dave" to "Dave Dunn").joinToString("\n") { (user, name) ->
            "[[users]]\nsip_uri = \"sip:$user@$DOMAIN\"\ndisplay_name = \"$name\"\npassword = \"$password\"\n"
        }
    )
    val ca = File(dir, "$name-ca.pem")
    val process = ProcessBuilder(listOf(sfbkit, "lab", "--json", "--config", config.path, "--ca-out", ca.path) + extra)
        .redirectErrorStream(true)
        .start()
    val lines = process.inputStream.bufferedReader()
    // `sfbkit lab --json` prints what a client needs as one JSON object on one line.
    var info: String? = null
    val seen = StringBuilder()
    while (info == null) {
        val line = lines.readLine() ?: error("sfbkit lab ended before it was up:\n$seen")
        seen.appendLine(line)
        if (line.startsWith("{")) info = line
    }
    val json: String = info ?: error("no JSON line from sfbkit lab")
    fun field(name: String) = Regex("\"$name\":\"?([^\",]*)").find(json)?.groupValues?.get(1)
        ?: error("no $name in $json")
    // Keep reading what the lab prints, so that it never blocks on a full pipe.
    Thread { lines.forEachLine { } }.apply { isDaemon = true }.start()
    val dns = field("dns")
    val https = field("autodiscover_https_port").toInt()
    val http = field("autodiscover_http_port").toInt()
    val sipPort = field("registrar").substringAfterLast(':').toInt()
    return Lab(process, dns, https, http, sipPort, File(field("ca_file")).readText(), sfbkit, dir)
}

var checks = 0
var failures = 0

/** One numbered check: its block returns the details to print, or throws. */
suspend fun check(name: String, block: suspend () -> String) {
    checks += 1
    try {
        val details = block()
        println("ok $checks - $name")
        details.lines().filter { it.isNotBlank() }.forEach { println("    $it") }
    } catch (e: Throwable) {
        failures += 1
        println("not ok $checks - $name")
        println("    ${e::class.simpleName}: ${e.message}")
    }
}

fun expect(condition: Boolean, message: () -> String) {
    if (!condition) throw AssertionError(message())
}

fun SignInReport.provisioned() = steps.any { it.step == "certificate provisioning" && it.outcome == Outcome.SUCCESS }

fun main(args: Array<String>) {
    val sfbkit = args.getOrNull(0) ?: error("usage: SignInTestKt <path to the sfbkit binary>")
    val dir = Files.createTempDirectory("sfbkit-kotlin").toFile()
    val password = "Kt-" + java.util.UUID.randomUUID().toString()
    val lab = startLab(sfbkit, dir, password)
    println("sfbkit ${sfbkitVersion()}; lab pool: DNS ${lab.dns}, autodiscover ${lab.https}/${lab.http}")
    try {
        runBlocking { withTimeout(180_000) { run(lab, password) } }
    } finally {
        lab.process.destroy()
        lab.process.waitFor(10, TimeUnit.SECONDS)
        dir.deleteRecursively()
    }
    println("$checks checks, $failures failed")
    exitProcess(if (failures == 0) 0 else 1)
}

suspend fun run(lab: Lab, password: String) {
    val store = KotlinSecretStore()
    val devices = KotlinDevices()
    var alice: Client? = null
    var first: SignInReport? = null

    check("alice signs in; her TLS-DSK certificate is stored through the Kotlin SecretStore") {
        val network = KotlinNetwork(lab.dns)
        val client = lab.builder("alice", password, withDns = false).secretStore(store).deviceProvider(devices)
            .networkInfo(network).build()
        expect(network.dnsAsked.get() == 1) { "the Kotlin NetworkInfo was asked for DNS servers ${network.dnsAsked} times" }
        alice = client
        val report = client.signIn()
        first = report
        expect(report.succeeded) { "sign-in failed: ${report.error}" }
        val provisioning = report.steps.single { it.step == "certificate provisioning" }
        expect(provisioning.outcome == Outcome.SUCCESS) { "provisioning: ${provisioning.detail}" }
        expect(provisioning.detail.contains(store.describe())) { "stored elsewhere: ${provisioning.detail}" }
        expect(store.sets.get() >= 1 && store.entries.isNotEmpty()) { "nothing was stored in the Kotlin SecretStore" }
        expect(report.steps.any { it.step.contains("TLS-DSK") }) { "no TLS-DSK step: ${report.steps.map { it.step }}" }
        "target ${report.target}, ${report.latencyMs} ms, ${report.steps.size} steps\n" +
            "certificate provisioning: ${provisioning.detail}\n" +
            "Kotlin SecretStore: ${store.entries.size} entry, ${store.sets.get()} set(s), ${store.gets.get()} get(s)\n" +
            "DNS servers from the Kotlin NetworkInfo: ${lab.dns}"
    }

    check("a Kotlin DeviceProvider supplies the devices the sign-in report lists (and NetworkInfo the adapters)") {
        val report = first ?: error("alice did not sign in")
        val local = report.steps.filter { it.stage == Stage.LOCAL_DISCOVERY }
        val listed = local.joinToString("\n") { "${it.step}: ${if (it.host.isEmpty()) "" else it.host + ": "}${it.detail}" }
        for (name in listOf("Kotlin Test Microphone", "Kotlin Test Speaker", "Kotlin Test Front Camera")) {
            expect(local.any { it.detail.contains(name) }) { "$name is not in the report:\n$listed" }
        }
        expect(local.any { it.detail.contains("listed by the Kotlin DeviceProvider") }) { "no notes:\n$listed" }
        // The Kotlin NetworkInfo's adapters are the ones the choice is made from.
        val adapter = local.single { it.step == "network adapter" }
        expect(adapter.host == "wlan0" || adapter.host == "lo") { "adapter ${adapter.host}: ${adapter.detail}" }
        "${Stage.LOCAL_DISCOVERY.displayName()}:\n$listed"
    }

    check("bob's presence change reaches alice through the Kotlin EventListener") {
        val client = alice ?: error("alice is not signed in")
        val collector = Collector()
        val handle = client.addEventListener(collector)
        val bob = lab.builder("bob", password).memorySecretStore().build()
        bob.signIn()
        try {
            bob.setPresence(Availability.BUSY, "in-a-meeting")
            bob.setNote("Hello from Kotlin")
            val event = collector.await(30) {
                it is Event.PresenceChanged && it.presence.uri == "sip:bob@$DOMAIN" &&
                    it.presence.availability == Availability.BUSY
            } as Event.PresenceChanged? ?: error("no PresenceChanged for bob within 30 s: ${collector.events}")
            expect(event.presence.activity == "in-a-meeting") { "activity: ${event.presence.activity}" }
            val view = client.presenceOf("bob@$DOMAIN")
            expect(view?.availability == Availability.BUSY) { "presenceOf: $view" }
            handle.cancel()
            "PresenceChanged(${event.presence.uri}, ${event.presence.availability}, ${event.presence.activity}) " +
                "delivered on thread ${collector.thread}"
        } finally {
            bob.signOut()
        }
    }

    check("normalize gives seed 003's results (events through the suspend nextEvent())") {
        val client = alice ?: error("alice is not signed in")
        var found: Event.LocationProfileLoaded? = null
        withTimeout(30_000) {
            while (found == null) found = client.nextEvent() as? Event.LocationProfileLoaded
        }
        val loaded = found ?: error("no LocationProfileLoaded")
        expect(loaded.rules == 5u) { "rules: ${loaded.rules}" }
        val expected = mapOf(
            "123456" to ("+441785123456" to 1u),
            "01785 123456" to ("+441785123456" to 2u),
            "0044207946001" to ("+44207946001" to 3u),
            "999" to ("+999" to 4u),
            "+44 (0)20 7946 0018" to ("+442079460018" to 5u),
        )
        val lines = StringBuilder("location profile ${loaded.name}, ${loaded.rules} rules\n")
        for ((dialed, want) in expected) {
            val n = client.normalize(dialed)
            expect(n.output == want.first && n.ruleIndex == want.second) { "$dialed -> ${n.output} (rule ${n.ruleIndex})" }
            lines.appendLine("$dialed -> ${n.output} (rule ${n.ruleIndex})")
        }
        val unmatched = client.normalize("+1 425 555 0100")
        expect(unmatched.output == null) { "+1 425 555 0100 -> ${unmatched.output}" }
        lines.toString()
    }

    check("a second sign-in finds the certificate in the Kotlin SecretStore and skips provisioning") {
        alice?.signOut()
        val getsBefore = store.gets.get()
        val again = lab.builder("alice", password).secretStore(store).build()
        val report = again.signIn()
        try {
            expect(!report.provisioned()) { "provisioned again: ${report.steps.map { it.step }}" }
            expect(store.gets.get() > getsBefore) { "the Kotlin SecretStore was not asked" }
            val tlsDsk = report.steps.filter { it.step.contains("TLS-DSK") }
            expect(tlsDsk.isNotEmpty()) { "no TLS-DSK step: ${report.steps.map { it.step }}" }
            // The sign-in cache (default one hour) kept the registrar in the same store: no discovery ran.
            val discovery = report.steps.filter { it.stage == Stage.SERVER_DISCOVERY }.map { it.step }
            expect(discovery == listOf("cached registrar")) { "server discovery: $discovery" }
            "steps: ${report.steps.filter { it.stage == Stage.AUTHENTICATION }.joinToString { it.step }}"
        } finally {
            again.signOut()
        }
    }

    check("signInCacheTtl(ZERO) turns the sign-in cache off: discovery runs again") {
        val uncached = lab.builder("alice", password).secretStore(store).signInCacheTtl(Duration.ZERO).build()
        val report = uncached.signIn()
        try {
            val discovery = report.steps.filter { it.stage == Stage.SERVER_DISCOVERY }.map { it.step }
            expect("cached registrar" !in discovery && discovery.isNotEmpty()) { "server discovery: $discovery" }
            "server discovery: ${discovery.joinToString()}"
        } finally {
            uncached.signOut()
        }
    }

    check("a wrong password arrives as a Kotlin exception carrying the stage and the hint") {
        val client = lab.builder("dave", "not-$password").memorySecretStore().build()
        try {
            client.signIn()
            error("the sign-in succeeded")
        } catch (e: SfbException.SignInFailed) {
            // The first use of the password refuses it: the web ticket autodiscover's User resource asks for
            // (Server Discovery), or the registrar's NTLM (Authentication). One refusal ends the sign-in.
            expect(e.stage == Stage.SERVER_DISCOVERY || e.stage == Stage.AUTHENTICATION) { "stage ${e.stage}" }
            expect(e.errorClass == "wrong-credentials") { "class ${e.errorClass}" }
            expect(e.hint.isNotBlank()) { "no hint" }
            expect(!e.report.succeeded && e.report.failedStage == e.stage) { "report: ${e.report}" }
            expect(!e.message.orEmpty().contains("not-$password")) { "the password is in the message" }
            "SfbException.SignInFailed: stage ${e.stage?.displayName()}, class ${e.errorClass}, code ${e.code}\n" +
                "detail: ${e.detail}\nhint: ${e.hint}"
        }
    }

    check("Kerberos with the password alone, as on a phone: the KDC found through DNS, two REGISTERs") {
        // A second lab with a Kerberos realm (a real MIT KDC); the app has no credential cache, only the password.
        val kerberosLab = startLab(lab.sfbkit, lab.dir, password, name = "kerberos", extra = listOf("--kerberos"))
        try {
            val client = kerberosLab.builder("alice", password).authMethod(AuthMethod.KERBEROS).memorySecretStore().build()
            val report = client.signIn()
            val registers = report.steps.filter { it.step.startsWith("REGISTER") && it.stage == Stage.AUTHENTICATION }
                .map { it.step }
            expect(registers == listOf("REGISTER", "REGISTER Kerberos (AP-REQ, signed)")) { "REGISTERs: $registers" }
            val web = report.steps.filter { it.step.contains("web ticket") }.joinToString { it.detail }
            expect(web.contains("Negotiate (Kerberos)")) { "web ticket: $web" }
            client.signOut()
            "REGISTERs: ${registers.joinToString()}; web ticket: $web"
        } finally {
            kerberosLab.process.destroy()
            kerberosLab.process.waitFor(10, TimeUnit.SECONDS)
        }
    }

    check("a command before sign-in and a bad option are typed exceptions with a hint") {
        val client = lab.builder("bob", password).memorySecretStore().build()
        val notSignedIn = runCatching { client.setNote("x") }.exceptionOrNull()
        expect(notSignedIn is SfbException.NotSignedIn) { "got $notSignedIn" }
        val badDns = runCatching { ClientBuilder("bob@$DOMAIN").dnsServers(listOf("not an address")).build() }
            .exceptionOrNull()
        expect(badDns is SfbException.Configuration && badDns.hint.isNotBlank()) { "got $badDns" }
        val noPlan = runCatching { client.normalize("123") }.exceptionOrNull()
        expect(noPlan is SfbException.NotReady) { "got $noPlan" }
        // Cancelling a coroutine cancels the wait in Rust: withTimeoutOrNull returns, nothing hangs.
        val waited = withTimeoutOrNull(200) { client.nextEvent() }
        expect(waited == null) { "an event before sign-in: $waited" }
        "NotSignedIn: ${(notSignedIn as SfbException.NotSignedIn).hint}\n" +
            "Configuration: ${(badDns as SfbException.Configuration).detail}"
    }
}
