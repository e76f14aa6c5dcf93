package dev.atsdispatch.notify;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The address classification behind the callback SSRF guard, and the allowlist syntax. */
final class AddressPolicyTest {
  static InetAddress ip(String literal) throws Exception {
    return InetAddress.getByName(literal); // literals only: parsed, never looked up
  }

  /** An IPv6 address object even for the IPv4-mapped form (Java would otherwise turn it into IPv4). */
  static InetAddress v6(String literal) throws Exception {
    byte[] b = InetAddress.getByName(literal).getAddress();
    if (b.length == 4) {
      byte[] m = new byte[16];
      m[10] = (byte) 0xff;
      m[11] = (byte) 0xff;
      System.arraycopy(b, 0, m, 12, 4);
      b = m;
    }
    return Inet6Address.getByAddress(null, b, -1);
  }

  @Test
  void internalIpv4RangesAreBlockedWithTheirKind() throws Exception {
    assertEquals("loopback", AddressPolicy.blockedKind(ip("127.0.0.1")));
    assertEquals("loopback", AddressPolicy.blockedKind(ip("127.255.0.9")));
    assertEquals("private", AddressPolicy.blockedKind(ip("10.0.0.1")));
    assertEquals("private", AddressPolicy.blockedKind(ip("172.16.0.1")));
    assertEquals("private", AddressPolicy.blockedKind(ip("172.31.255.255")));
    assertEquals("private", AddressPolicy.blockedKind(ip("192.168.1.1")));
    assertEquals("shared (CGNAT)", AddressPolicy.blockedKind(ip("100.64.0.1")));
    assertEquals("shared (CGNAT)", AddressPolicy.blockedKind(ip("100.127.255.254")));
    assertEquals("link-local", AddressPolicy.blockedKind(ip("169.254.10.10")));
    assertEquals("cloud metadata", AddressPolicy.blockedKind(ip("169.254.169.254")));
    assertEquals("cloud metadata", AddressPolicy.blockedKind(ip("100.100.100.200")));
    assertEquals("unspecified", AddressPolicy.blockedKind(ip("0.0.0.0")));
    assertEquals("multicast", AddressPolicy.blockedKind(ip("224.0.0.1")));
    assertEquals("reserved", AddressPolicy.blockedKind(ip("255.255.255.255")));
  }

  @Test
  void publicIpv4AddressesAndTheEdgesOfBlockedRangesPass() throws Exception {
    for (String a : List.of("8.8.8.8", "1.1.1.1", "203.0.113.7", "172.15.255.255", "172.32.0.0",
        "100.63.255.255", "100.128.0.0", "169.253.255.255", "11.0.0.1", "192.167.255.255")) {
      assertNull(AddressPolicy.blockedKind(ip(a)), a);
    }
  }

  @Test
  void internalIpv6RangesAreBlocked() throws Exception {
    assertEquals("loopback", AddressPolicy.blockedKind(ip("::1")));
    assertEquals("unspecified", AddressPolicy.blockedKind(ip("::")));
    assertEquals("link-local", AddressPolicy.blockedKind(ip("fe80::1")));
    assertEquals("unique-local", AddressPolicy.blockedKind(ip("fc00::1")));
    assertEquals("unique-local", AddressPolicy.blockedKind(ip("fd12:3456::1")));
    assertEquals("cloud metadata", AddressPolicy.blockedKind(ip("fd00:ec2::254")));
    assertEquals("multicast", AddressPolicy.blockedKind(ip("ff02::1")));
    assertNull(AddressPolicy.blockedKind(ip("2001:4860:4860::8888")));
  }

  @Test
  void ipv4InsideIpv6IsJudgedByTheIpv4Address() throws Exception {
    assertEquals("loopback (IPv4 inside IPv6)", AddressPolicy.blockedKind(v6("127.0.0.1")));
    assertEquals("private (IPv4 inside IPv6)", AddressPolicy.blockedKind(v6("10.0.0.1")));
    assertEquals("cloud metadata (IPv4 inside IPv6)", AddressPolicy.blockedKind(v6("169.254.169.254")));
    assertEquals("private (IPv4 inside IPv6)", AddressPolicy.blockedKind(ip("64:ff9b::a00:1")), "NAT64");
    assertEquals("private (IPv4 inside IPv6)", AddressPolicy.blockedKind(ip("2002:c0a8:0101::1")), "6to4");
    assertEquals("private (IPv4 inside IPv6)", AddressPolicy.blockedKind(ip("::10.0.0.1")), "IPv4-compatible");
    assertNull(AddressPolicy.blockedKind(v6("203.0.113.7")));
  }

  @Test
  void allowlistTakesHostsAddressesAndCidrRanges() throws Exception {
    AddressPolicy p = AddressPolicy.allowing(List.of("Hooks.Internal.", "10.20.0.0/16", "127.0.0.1",
        "fd00::/8", " "));
    assertTrue(p.allowsHost("hooks.internal"));
    assertTrue(p.allowsHost("HOOKS.internal."));
    assertFalse(p.allowsHost("evil.hooks.internal"), "names match exactly");
    assertTrue(p.allowsAddress(ip("10.20.255.1")));
    assertFalse(p.allowsAddress(ip("10.21.0.1")));
    assertTrue(p.allowsAddress(ip("127.0.0.1")));
    assertFalse(p.allowsAddress(ip("127.0.0.2")), "a bare address is a /32");
    assertTrue(p.allowsAddress(v6("10.20.0.5")), "the mapped form of an allowed address");
    assertTrue(p.allowsAddress(ip("fd00:ec2::254")));
    assertFalse(p.allowsAddress(ip("fc00::1")));
    assertFalse(AddressPolicy.none().allowsAddress(ip("127.0.0.1")));
    assertTrue(AddressPolicy.allowing(List.of("0.0.0.0/0")).allowsAddress(ip("192.168.0.1")));
  }

  @Test
  void badAllowlistEntriesAreRefusedByName() {
    for (String bad : List.of("10.0.0.0/33", "10.0.0.0/x", "1.2.3.4.5", "256.1.1.1", "fd00::/129", "host/8",
        "under_score.example", "http://x")) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> AddressPolicy.allowing(List.of(bad)), bad);
      assertTrue(e.getMessage().contains(bad), e.getMessage());
    }
  }
}
