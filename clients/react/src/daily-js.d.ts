// The one export of @openreplica/daily-js used here (the package ships full types).
declare module "@openreplica/daily-js" {
  const Daily: { createCallObject(options?: Record<string, unknown>): unknown };
  export default Daily;
}
