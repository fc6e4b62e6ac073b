-- Which process holds a received message, so a restarted local hub can make its crashed
-- predecessor's messages visible at once instead of after the whole visibility timeout.
-- NULL when no one holds it (never received, or released by a retry). See QueueReceiver.
ALTER TABLE queue_messages ADD COLUMN IF NOT EXISTS received_by text;
