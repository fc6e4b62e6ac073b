export const LOCAL_CONTROL_SECRET = Symbol('LocalControlSecret');
