package dev.atsdispatch.testing;

import io.nats.client.NKey;
import io.nats.client.support.JsonSerializable;
import io.nats.client.support.JwtUtils;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.time.Duration;

/**
 * A NATS operator, its system account and one account with JetStream, made in memory with
 * jnats's NKeys and JWTs (what {@code nsc} makes), for a nats-server in operator mode: the
 * configuration block that trusts them ({@link #natsBlock()}) and a user's {@code .creds} file
 * ({@link #creds}). A value once made.
 */
public record TestOperator(String operatorJwt, String systemAccount, String systemJwt, String account,
    String accountJwt, NKey accountKey) {

  public static TestOperator make() throws IOException, GeneralSecurityException {
    SecureRandom r = new SecureRandom();
    NKey op = NKey.createOperator(r);
    NKey sys = NKey.createAccount(r);
    NKey acc = NKey.createAccount(r);
    String opPub = new String(op.getPublicKey());
    String opJwt = JwtUtils.issueJWT(op, opPub, "test-operator", null, JwtUtils.currentTimeSeconds(), opPub, null,
        claim("{\"type\":\"operator\",\"version\":2}"));
    String sysPub = new String(sys.getPublicKey());
    String sysJwt = JwtUtils.issueJWT(op, sysPub, "SYS", null, JwtUtils.currentTimeSeconds(), opPub, null,
        claim("{\"type\":\"account\",\"version\":2,\"limits\":{\"subs\":-1,\"data\":-1,\"payload\":-1,\"imports\":-1,"
            + "\"exports\":-1,\"wildcards\":true,\"conn\":-1,\"leaf\":-1}}"));
    String accPub = new String(acc.getPublicKey());
    String accJwt = JwtUtils.issueJWT(op, accPub, "agents", null, JwtUtils.currentTimeSeconds(), opPub, null,
        claim("{\"type\":\"account\",\"version\":2,\"limits\":{\"subs\":-1,\"data\":-1,\"payload\":-1,\"imports\":-1,"
            + "\"exports\":-1,\"wildcards\":true,\"conn\":-1,\"leaf\":-1,\"mem_storage\":-1,\"disk_storage\":-1,"
            + "\"streams\":-1,\"consumer\":-1}}"));
    return new TestOperator(opJwt, sysPub, sysJwt, accPub, accJwt, acc);
  }

  /** The nats-server configuration that trusts this operator and knows both accounts. */
  public String natsBlock() {
    return "operator: \"" + operatorJwt + "\"\nsystem_account: " + systemAccount + "\nresolver: MEMORY\n"
        + "resolver_preload: {\n  " + systemAccount + ": \"" + systemJwt + "\"\n  " + account + ": \"" + accountJwt + "\"\n}";
  }

  /** A new user of the JetStream account: its {@code .creds} file (JWT and seed), mode 0600. */
  public Path creds(Path file, String name) throws IOException, GeneralSecurityException {
    NKey user = NKey.createUser(new SecureRandom());
    String jwt = JwtUtils.issueUserJWT(accountKey, account, new String(user.getPublicKey()), name);
    Files.writeString(file, String.format(JwtUtils.NATS_USER_JWT_FORMAT, jwt, new String(user.getSeed())));
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
    return file;
  }

  private static JsonSerializable claim(String json) {
    return () -> json;
  }
}
