// @peculiar/x509 resolves its services through tsyringe, which needs the
// Reflect metadata API loaded once per process before it is imported.
import 'reflect-metadata';
