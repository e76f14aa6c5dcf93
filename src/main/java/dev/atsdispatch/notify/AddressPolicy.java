package dev.atsdispatch.notify;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Which addresses a callback may reach (defect 9): everything public, nothing internal (loopback,
 * private, CGNAT, link-local, unique-local, multicast, unspecified, reserved, cloud metadata, and
 * the same behind IPv4-mapped, IPv4-compatible, NAT64 and 6to4 IPv6 forms), except what the
 * configured allowlist names: exact host names or CIDR ranges. Immutable; built once from
 * {@code callback.allow}.
 */
public final class AddressPolicy {
  /** IP literal as OkHttp recognises one (it then connects without asking the Dns). */
  private static final Pattern LITERAL = Pattern.compile("([0-9a-fA-F]*:[0-9a-fA-F:.]*)|([\\d.]+)");
  private static final Pattern HOST = Pattern.compile("[a-z0-9]([a-z0-9-]*[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*");

  private static final Set<String> METADATA = Set.of("169.254.169.254", "169.254.170.2", "100.100.100.200",
      "fd00:ec2:0:0:0:0:0:254");

  /** One CIDR range. */
  private record Range(byte[] net, int bits) {
    boolean contains(byte[] a) {
      if (a.length != net.length) return false;
      int full = bits / 8;
      for (int i = 0; i < full; i++) if (a[i] != net[i]) return false;
      int rest = bits % 8;
      if (rest == 0) return true;
      int mask = (0xff << (8 - rest)) & 0xff;
      return (a[full] & mask) == (net[full] & mask);
    }
  }

  private final List<String> hosts;
  private final List<Range> ranges;

  private AddressPolicy(List<String> hosts, List<Range> ranges) {
    this.hosts = List.copyOf(hosts);
    this.ranges = List.copyOf(ranges);
  }

  /**
   * Parses allowlist entries: a host name ({@code hooks.internal}), an address
   * ({@code 10.1.2.3}, {@code ::1}) or a CIDR range ({@code 10.0.0.0/8}, {@code fd00::/8}).
   * Throws IllegalArgumentException naming a bad entry.
   */
  public static AddressPolicy allowing(List<String> entries) {
    List<String> hosts = new ArrayList<>();
    List<Range> ranges = new ArrayList<>();
    for (String raw : entries) {
      String e = raw.trim().toLowerCase(Locale.ROOT);
      if (e.isEmpty()) continue;
      int slash = e.indexOf('/');
      String addr = slash < 0 ? e : e.substring(0, slash);
      if (addr.startsWith("[") && addr.endsWith("]")) addr = addr.substring(1, addr.length() - 1);
      if (isLiteral(addr)) {
        byte[] net = literal(addr, raw);
        int max = net.length * 8;
        int bits = max;
        if (slash >= 0) {
          try {
            bits = Integer.parseInt(e.substring(slash + 1));
          } catch (NumberFormatException x) {
            bits = -1;
          }
          if (bits < 0 || bits > max) throw new IllegalArgumentException("bad prefix length in " + raw);
        }
        ranges.add(new Range(net, bits));
      } else if (slash < 0 && HOST.matcher(stripDot(e)).matches()) {
        hosts.add(stripDot(e));
      } else {
        throw new IllegalArgumentException("not a host, address or CIDR range: " + raw);
      }
    }
    return new AddressPolicy(hosts, ranges);
  }

  public static AddressPolicy none() {
    return new AddressPolicy(List.of(), List.of());
  }

  /** True if the host name is on the allowlist as a name (then its addresses are not checked). */
  public boolean allowsHost(String host) {
    return hosts.contains(stripDot(host.toLowerCase(Locale.ROOT)));
  }

  /** True if an allowlisted range holds the address (or its embedded IPv4 address). */
  public boolean allowsAddress(InetAddress a) {
    byte[] raw = a.getAddress();
    byte[] v4 = embeddedV4(raw);
    for (Range r : ranges) {
      if (r.contains(raw) || (v4 != null && r.contains(v4))) return true;
    }
    return false;
  }

  /**
   * Why a callback may not reach this address ("loopback", "private", "link-local", ...), or
   * null if it may. The allowlist is applied by the caller.
   */
  public static String blockedKind(InetAddress a) {
    byte[] b = a.getAddress();
    if (b.length == 16) {
      byte[] v4 = embeddedV4(b);
      if (v4 != null) {
        String k = v4Kind(v4);
        return k == null ? null : k + " (IPv4 inside IPv6)";
      }
      return v6Kind(b, a);
    }
    return v4Kind(b);
  }

  /** True if OkHttp would treat this URL host as an address and skip the Dns. */
  static boolean isLiteral(String host) {
    return LITERAL.matcher(host).matches();
  }

  private static String v4Kind(byte[] b) {
    int a0 = b[0] & 0xff;
    int a1 = b[1] & 0xff;
    String dotted = a0 + "." + a1 + "." + (b[2] & 0xff) + "." + (b[3] & 0xff);
    if (METADATA.contains(dotted)) return "cloud metadata";
    if (a0 == 127) return "loopback";
    if (a0 == 10 || (a0 == 172 && (a1 & 0xf0) == 16) || (a0 == 192 && a1 == 168)) return "private";
    if (a0 == 100 && (a1 & 0xc0) == 64) return "shared (CGNAT)";
    if (a0 == 169 && a1 == 254) return "link-local";
    if (a0 == 0) return "unspecified";
    if (a0 >= 224 && a0 <= 239) return "multicast";
    if (a0 >= 240) return "reserved";
    if (a0 == 192 && a1 == 0 && (b[2] & 0xff) == 0) return "reserved";
    if (a0 == 198 && (a1 & 0xfe) == 18) return "reserved";
    return null;
  }

  private static String v6Kind(byte[] b, InetAddress a) {
    String text = canonicalV6(b);
    if (METADATA.contains(text)) return "cloud metadata";
    if (a.isLoopbackAddress() || isAll(b, 0, 15, 0) && b[15] == 1) return "loopback";
    if (isAll(b, 0, 16, 0)) return "unspecified";
    int b0 = b[0] & 0xff;
    int b1 = b[1] & 0xff;
    if (b0 == 0xfe && (b1 & 0xc0) == 0x80) return "link-local";
    if (b0 == 0xfe && (b1 & 0xc0) == 0xc0) return "site-local";
    if ((b0 & 0xfe) == 0xfc) return "unique-local";
    if (b0 == 0xff) return "multicast";
    return null;
  }

  /**
   * The IPv4 address inside an IPv6 one: IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible
   * (::a.b.c.d), NAT64 (64:ff9b::a.b.c.d) or 6to4 (2002:AABB:CCDD::); null if none.
   */
  static byte[] embeddedV4(byte[] b) {
    if (b.length != 16) return null;
    boolean mapped = isAll(b, 0, 10, 0) && (b[10] & 0xff) == 0xff && (b[11] & 0xff) == 0xff;
    boolean compatible = isAll(b, 0, 12, 0) && !isAll(b, 12, 16, 0) && !(isAll(b, 12, 15, 0) && b[15] == 1);
    boolean nat64 = b[0] == 0 && (b[1] & 0xff) == 0x64 && (b[2] & 0xff) == 0xff && (b[3] & 0xff) == 0x9b
        && isAll(b, 4, 12, 0);
    if (mapped || compatible || nat64) return new byte[] {b[12], b[13], b[14], b[15]};
    if ((b[0] & 0xff) == 0x20 && (b[1] & 0xff) == 0x02) return new byte[] {b[2], b[3], b[4], b[5]};
    return null;
  }

  private static boolean isAll(byte[] b, int from, int to, int v) {
    for (int i = from; i < to; i++) if (b[i] != v) return false;
    return true;
  }

  private static String canonicalV6(byte[] b) {
    StringBuilder s = new StringBuilder();
    for (int i = 0; i < 16; i += 2) {
      if (i > 0) s.append(':');
      s.append(Integer.toHexString(((b[i] & 0xff) << 8) | (b[i + 1] & 0xff)));
    }
    return s.toString();
  }

  private static final Pattern DOTTED_QUAD =
      Pattern.compile("(25[0-5]|2[0-4]\\d|1?\\d?\\d)(\\.(25[0-5]|2[0-4]\\d|1?\\d?\\d)){3}");

  private static byte[] literal(String addr, String raw) {
    if (!addr.contains(":") && !DOTTED_QUAD.matcher(addr).matches()) {
      throw new IllegalArgumentException("not an address: " + raw);
    }
    try {
      // a literal (digits and dots, or hex and colons) is parsed, never looked up
      InetAddress a = InetAddress.getByName(addr);
      if (addr.contains(":") && a instanceof Inet4Address) {
        // Java turns ::ffff:a.b.c.d into an IPv4 address; keep ranges in the family written
        return Inet6Address.getByAddress(null, mapped(a.getAddress())).getAddress();
      }
      return a.getAddress();
    } catch (UnknownHostException e) {
      throw new IllegalArgumentException("not an address: " + raw);
    }
  }

  private static byte[] mapped(byte[] v4) {
    byte[] b = new byte[16];
    b[10] = (byte) 0xff;
    b[11] = (byte) 0xff;
    System.arraycopy(v4, 0, b, 12, 4);
    return b;
  }

  private static String stripDot(String h) {
    return h.endsWith(".") ? h.substring(0, h.length() - 1) : h;
  }

  @Override
  public String toString() {
    return "AddressPolicy" + hosts + ranges.size() + " ranges";
  }
}
