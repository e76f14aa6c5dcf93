package dev.atsdispatch.devserver;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

/**
 * The dev server's durable storage: one SQLite file (WAL mode, exclusive lock) or an in-memory
 * SQLite database. Each table holds JSON documents keyed by id. Not thread-safe: {@link TaskStore}
 * calls it under its own lock. A write is committed before it returns, so anything answered with a
 * 2xx survives SIGTERM and kill -9 of the server; with {@code fsync} it also survives power loss.
 */
final class Database implements AutoCloseable {
  static final String TASKS = "tasks";
  static final String MESSAGES = "messages";
  static final String ORGS = "orgs";
  static final String PROJECTS = "projects";

  private final ObjectMapper mapper;
  private final Connection conn;
  private final String description;
  private final java.util.Map<String, PreparedStatement> puts = new java.util.HashMap<>();

  private Database(Connection conn, ObjectMapper mapper, String description) {
    this.conn = conn;
    this.mapper = mapper;
    this.description = description;
  }

  /** Opens (creating if needed) the database file, or an in-memory one when {@code file} is null. */
  static Database open(Path file, boolean fsync, ObjectMapper mapper) {
    String url;
    String description;
    if (file == null) {
      url = "jdbc:sqlite::memory:";
      description = "in-memory database";
    } else {
      try {
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) Files.createDirectories(parent);
      } catch (IOException e) {
        throw new UncheckedIOException("cannot create the directory for " + file, e);
      }
      url = "jdbc:sqlite:" + file.toAbsolutePath();
      description = file.toString();
    }
    try {
      Connection c = DriverManager.getConnection(url);
      try (Statement s = c.createStatement()) {
        if (file != null) {
          // One server per file: a second one fails here instead of serving a stale copy.
          s.execute("PRAGMA locking_mode=EXCLUSIVE");
          s.execute("PRAGMA journal_mode=WAL");
          s.execute("PRAGMA synchronous=" + (fsync ? "FULL" : "NORMAL"));
        }
        s.execute("PRAGMA foreign_keys=OFF");
        for (String t : List.of(TASKS, MESSAGES, ORGS, PROJECTS)) {
          s.execute("CREATE TABLE IF NOT EXISTS " + t
              + " (id INTEGER PRIMARY KEY, parent INTEGER, doc TEXT NOT NULL)");
        }
        s.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)");
        // Takes the exclusive lock now rather than on the first request.
        s.execute("BEGIN IMMEDIATE");
        s.execute("COMMIT");
      } catch (SQLException e) {
        c.close();
        if (e.getMessage() != null && e.getMessage().contains("locked")) {
          throw new IllegalStateException(
              "database " + description + " is in use by another process", e);
        }
        throw e;
      }
      c.setAutoCommit(false);
      return new Database(c, mapper, description);
    } catch (SQLException e) {
      throw new IllegalStateException("cannot open database " + description + ": " + e.getMessage(),
          e);
    }
  }

  String description() {
    return description;
  }

  List<JsonNode> loadAll(String table) {
    List<JsonNode> out = new ArrayList<>();
    try (Statement s = conn.createStatement();
        ResultSet rs = s.executeQuery("SELECT doc FROM " + table + " ORDER BY id")) {
      while (rs.next()) out.add(mapper.readTree(rs.getString(1)));
      return out;
    } catch (SQLException | IOException e) {
      throw new IllegalStateException("cannot read " + table + " from " + description, e);
    }
  }

  long meta(String key, long fallback) {
    try (PreparedStatement p = conn.prepareStatement("SELECT value FROM meta WHERE key = ?")) {
      p.setString(1, key);
      try (ResultSet rs = p.executeQuery()) {
        return rs.next() ? rs.getLong(1) : fallback;
      }
    } catch (SQLException e) {
      throw new IllegalStateException("cannot read meta from " + description, e);
    }
  }

  /** A unit of work: every put inside it is committed together, or none is. */
  Tx begin() {
    return new Tx();
  }

  @Override
  public void close() {
    try {
      for (PreparedStatement p : puts.values()) p.close();
      conn.close();
    } catch (SQLException e) {
      // closing anyway
    }
  }

  /** One transaction. {@link #commit()} makes it durable; closing without commit rolls back. */
  final class Tx implements AutoCloseable {
    private boolean done;

    void put(String table, long id, long parent, JsonNode doc) {
      try {
        PreparedStatement p = puts.get(table);
        if (p == null) {
          p = conn.prepareStatement(
              "INSERT OR REPLACE INTO " + table + " (id, parent, doc) VALUES (?, ?, ?)");
          puts.put(table, p);
        }
        p.setLong(1, id);
        p.setLong(2, parent);
        p.setString(3, mapper.writeValueAsString(doc));
        p.executeUpdate();
      } catch (SQLException | IOException e) {
        throw new IllegalStateException("cannot write to " + description + ": " + e.getMessage(),
            e);
      }
    }

    void putMeta(String key, long value) {
      try (PreparedStatement p =
          conn.prepareStatement("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)")) {
        p.setString(1, key);
        p.setLong(2, value);
        p.executeUpdate();
      } catch (SQLException e) {
        throw new IllegalStateException("cannot write to " + description + ": " + e.getMessage(),
            e);
      }
    }

    void deleteAll(String table) {
      try (Statement s = conn.createStatement()) {
        s.execute("DELETE FROM " + table);
      } catch (SQLException e) {
        throw new IllegalStateException("cannot write to " + description + ": " + e.getMessage(),
            e);
      }
    }

    void commit() {
      try {
        conn.commit();
        done = true;
      } catch (SQLException e) {
        throw new IllegalStateException("cannot commit to " + description + ": " + e.getMessage(),
            e);
      }
    }

    @Override
    public void close() {
      if (!done) {
        try {
          conn.rollback();
        } catch (SQLException e) {
          // the connection is broken; the next write reports it
        }
      }
    }
  }
}
